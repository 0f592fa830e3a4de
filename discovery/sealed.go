package discovery

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
)

// memberlist's encryption (memberlist security.go): a version byte, a 12-byte
// nonce, then AES-GCM ciphertext and tag. Version 0 pads the plaintext
// (PKCS#7) before sealing, version 1 does not. Packets authenticate the label
// as additional data; streams are framed as [mlEncrypt][length uint32] and
// authenticate those five bytes followed by the label.
const (
	mlNonceSize  = 12
	mlTagSize    = 16
	mlMaxSealVsn = 1
	// maxSealedStream is the longest sealed stream message memberlist
	// accepts (its maxPushStateBytes).
	maxSealedStream = 20 << 20
)

// openSealed authenticates and decrypts one sealed payload with the first of
// keys that opens it.
func openSealed(keys [][]byte, msg, aad []byte) ([]byte, error) {
	if len(msg) < 1+mlNonceSize+mlTagSize || msg[0] > mlMaxSealVsn {
		return nil, fmt.Errorf("%w: not a sealed payload", errMalformed)
	}
	for _, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			continue
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			continue
		}
		plain, err := gcm.Open(nil, msg[1:1+mlNonceSize], msg[1+mlNonceSize:], aad)
		if err != nil {
			continue
		}
		if msg[0] == 0 {
			return unpad(plain)
		}
		return plain, nil
	}
	return nil, fmt.Errorf("%w: no key of the ring opens it", errMalformed)
}

// unpad removes PKCS#7 padding, which memberlist removes without checking
// (a bad pad length panics it).
func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty padded payload", errMalformed)
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, fmt.Errorf("%w: bad padding", errMalformed)
	}
	return b[:len(b)-n], nil
}

// sealedPacket authenticates a packet (its label header removed) and returns
// the plaintext memberlist will handle.
func (s screener) sealedPacket(keys [][]byte, b []byte) ([]byte, error) {
	return openSealed(keys, b, []byte(s.label))
}

// sealedStream reads a sealed stream message (its type byte already read
// from rec), authenticates it and screens the plaintext as memberlist will
// read it. The whole message is kept in rec for the replay.
func (s screener) sealedStream(keys [][]byte, rec *recorder, inbound bool) error {
	var n [4]byte
	if _, err := io.ReadFull(rec, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxSealedStream {
		return fmt.Errorf("%w: sealed stream message of %d bytes", errMalformed, size)
	}
	// Read what arrives, not what is claimed: memory follows the bytes
	// actually received.
	start := len(rec.buf)
	if _, err := io.CopyN(io.Discard, rec, int64(size)); err != nil {
		return err
	}
	aad := append([]byte{mlEncrypt}, n[:]...)
	plain, err := openSealed(keys, rec.buf[start:], append(aad, s.label...))
	if err != nil {
		return err
	}
	if len(plain) == 0 {
		return fmt.Errorf("%w: empty sealed message", errMalformed) // memberlist panics on it
	}
	if plain[0] == mlCompress {
		_, err := s.compressedStream(bytes.NewReader(plain[1:]), inbound)
		return err
	}
	return screenStreamBody(plain[0], bytes.NewReader(plain[1:]), inbound)
}
