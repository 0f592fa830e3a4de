package rosgw

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"

	"github.com/bluenviron/goroslib/v2/pkg/msg"
)

// SrvSpec is a ROS service type: its request and response messages.
type SrvSpec struct {
	Type     string // "std_srvs/SetBool"
	Req, Res *MsgSpec
}

// ParseService parses a service type from the full definitions of its
// request and response (each in the format ParseDefinition reads).
func ParseService(typ, reqText, resText string) (*SrvSpec, error) {
	req, err := ParseDefinition(typ+"Request", reqText)
	if err != nil {
		return nil, err
	}
	res, err := ParseDefinition(typ+"Response", resText)
	if err != nil {
		return nil, err
	}
	return &SrvSpec{Type: typ, Req: req, Res: res}, nil
}

// MD5 returns the service's MD5 sum as ROS computes it: the MD5 of the
// request's MD5 text followed by the response's.
func (s *SrvSpec) MD5() (string, error) {
	req, err := s.Req.md5Text(map[*MsgSpec]bool{})
	if err != nil {
		return "", err
	}
	res, err := s.Res.md5Text(map[*MsgSpec]bool{})
	if err != nil {
		return "", err
	}
	sum := md5.Sum([]byte(req + res))
	return hex.EncodeToString(sum[:]), nil
}

// GoType builds the struct goroslib takes as a service: its package, the
// request and response types, then its name (goroslib takes the first two
// fields other than the package as request and response).
func (s *SrvSpec) GoType() (reflect.Type, error) {
	pkg, name, ok := strings.Cut(s.Type, "/")
	if !ok {
		return nil, fmt.Errorf("%w: service type %q", ErrBadDefinition, s.Type)
	}
	req, err := s.Req.GoType()
	if err != nil {
		return nil, err
	}
	res, err := s.Res.GoType()
	if err != nil {
		return nil, err
	}
	return reflect.StructOf([]reflect.StructField{
		{Name: "Package", Type: reflect.TypeOf(msg.Package(0)), Tag: rosTag("ros", pkg), Anonymous: true},
		{Name: "Req", Type: req},
		{Name: "Res", Type: res},
		{Name: "Name", Type: reflect.TypeOf(msg.Name(0)), Tag: rosTag("ros", name), Anonymous: true},
	}), nil
}

// New returns a pointer to a zero value of the service struct, as
// goroslib's service clients and providers take it.
func (s *SrvSpec) New() (any, error) {
	t, err := s.GoType()
	if err != nil {
		return nil, err
	}
	return reflect.New(t).Interface(), nil
}
