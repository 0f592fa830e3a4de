package discovery

import (
	"net"
	"slices"
)

// lanIface is an interface LAN discovery uses, with the source address of
// its announcements: the address other members join.
type lanIface struct {
	ifi net.Interface
	src net.IP
}

// lanIfaces are the interfaces in use, by index.
type lanIfaces map[int]lanIface

func (s lanIfaces) sorted() []lanIface {
	out := make([]lanIface, 0, len(s))
	for _, i := range s {
		out = append(out, i)
	}
	slices.SortFunc(out, func(a, b lanIface) int { return a.ifi.Index - b.ifi.Index })
	return out
}

// ifaceInfo is an interface of the host and its IPv4 addresses.
type ifaceInfo struct {
	ifi   net.Interface
	addrs []net.IP
}

// scanInterfaces lists the host's interfaces.
func scanInterfaces() ([]ifaceInfo, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]ifaceInfo, 0, len(ifs))
	for _, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		info := ifaceInfo{ifi: ifi}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				info.addrs = append(info.addrs, n.IP.To4())
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// selectInterfaces picks the interfaces to use among found: those named, if
// any are, that are up; otherwise every one that is up, running,
// multicast-capable and not a loopback. An interface is used only with a
// source address: bindIP when the gossip port is bound to one address (then
// only interfaces holding it qualify), otherwise its first global unicast
// IPv4 address, or its first IPv4 address.
func selectInterfaces(found []ifaceInfo, names []string, bindIP net.IP) []lanIface {
	var out []lanIface
	for _, f := range found {
		fl := f.ifi.Flags
		switch {
		case fl&net.FlagUp == 0:
			continue
		case len(names) > 0:
			if !slices.Contains(names, f.ifi.Name) {
				continue
			}
		case fl&net.FlagRunning == 0 || fl&net.FlagMulticast == 0 || fl&net.FlagLoopback != 0:
			continue
		}
		if src := sourceAddr(f.addrs, bindIP); src != nil {
			out = append(out, lanIface{ifi: f.ifi, src: src})
		}
	}
	return out
}

func sourceAddr(addrs []net.IP, bindIP net.IP) net.IP {
	if bindIP != nil && !bindIP.IsUnspecified() {
		if slices.ContainsFunc(addrs, bindIP.Equal) {
			return bindIP.To4()
		}
		return nil
	}
	for _, a := range addrs {
		if a.IsGlobalUnicast() {
			return a
		}
	}
	if len(addrs) > 0 {
		return addrs[0]
	}
	return nil
}

// rescan scans the host's interfaces and joins the group on those newly
// selected, leaving it on those gone. It runs in the announce loop.
func (l *lan) rescan() {
	found, err := scanInterfaces()
	if err != nil {
		l.logger.Warn("cannot list network interfaces", "err", err)
		return
	}
	old := *l.ifaces.Load()
	next := make(lanIfaces)
	group := &net.UDPAddr{IP: l.settings.group.IP}
	for _, i := range selectInterfaces(found, l.settings.names, l.bindIP) {
		if _, ok := old[i.ifi.Index]; !ok {
			if err := l.conn.JoinGroup(&i.ifi, group); err != nil {
				l.logger.Warn("cannot join the multicast group", "interface", i.ifi.Name, "group", group.IP, "err", err)
				continue
			}
			l.logger.Info("LAN discovery on interface", "interface", i.ifi.Name, "source", i.src, "group", l.settings.group)
		}
		next[i.ifi.Index] = i
	}
	for idx, i := range old {
		if _, ok := next[idx]; !ok {
			_ = l.conn.LeaveGroup(&i.ifi, group)
			l.logger.Info("LAN discovery left interface", "interface", i.ifi.Name)
		}
	}
	if len(next) == 0 && (len(old) > 0 || l.lastSent.IsZero()) {
		l.logger.Warn("no network interface for LAN discovery; scanning again every 10 s", "interfaces", l.settings.names)
	}
	l.ifaces.Store(&next)
}
