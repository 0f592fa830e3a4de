package codec

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeRawUnicodeEscape decodes Python's raw-unicode-escape codec, in
// which protocol 0 writes strings. Each byte is the code point of the same
// value, except that \uXXXX and \UXXXXXXXX after an odd number of
// backslashes stand for other code points. A pair of escaped surrogates
// (as Python 2 wrote) becomes the code point it encodes; a lone surrogate,
// which no Go string can hold, is an error.
func decodeRawUnicodeEscape(b []byte) (string, error) {
	out := make([]byte, 0, len(b)+len(b)/2)
	high := rune(-1) // a high surrogate waiting for its pair
	for i := 0; i < len(b); {
		if high >= 0 && !bytes.HasPrefix(b[i:], []byte(`\u`)) {
			return "", errors.New("lone surrogate")
		}
		if b[i] != '\\' {
			out = utf8.AppendRune(out, rune(b[i]))
			i++
			continue
		}
		j := i
		for j < len(b) && b[j] == '\\' {
			j++
		}
		if (j-i)%2 == 0 || j == len(b) || b[j] != 'u' && b[j] != 'U' {
			out = append(out, b[i:j]...)
			i = j
			continue
		}
		out = append(out, b[i:j-1]...) // the last backslash starts the escape
		r, n, err := hexEscape(b[j:])
		if err != nil {
			return "", err
		}
		if r, high, err = pairSurrogates(high, r); err != nil {
			return "", err
		}
		if r >= 0 {
			out = utf8.AppendRune(out, r)
		}
		i = j + n
	}
	if high >= 0 {
		return "", errors.New("lone surrogate")
	}
	return string(out), nil
}

// pairSurrogates combines the escaped code point r with a preceding high
// surrogate, if any. It returns the code point to write (-1 for none yet)
// and the high surrogate that now waits for its pair (-1 for none).
func pairSurrogates(high, r rune) (rune, rune, error) {
	switch {
	case high >= 0 && utf16.IsSurrogate(r) && r >= 0xdc00:
		return utf16.DecodeRune(high, r), -1, nil
	case high >= 0 || utf16.IsSurrogate(r) && r >= 0xdc00:
		return 0, 0, errors.New("lone surrogate")
	case utf16.IsSurrogate(r):
		return -1, r, nil
	}
	return r, -1, nil
}

// hexEscape decodes the uXXXX or UXXXXXXXX at the start of b and returns
// the code point and the bytes it took.
func hexEscape(b []byte) (rune, int, error) {
	width := 4
	if b[0] == 'U' {
		width = 8
	}
	if len(b) < 1+width {
		return 0, 0, errors.New("truncated \\" + string(b[0]) + " escape")
	}
	v, err := strconv.ParseUint(string(b[1:1+width]), 16, 32)
	if err != nil || v > utf8.MaxRune {
		return 0, 0, errors.New("bad \\" + string(b[0]) + " escape")
	}
	return rune(v), 1 + width, nil
}

// decodeQuotedString decodes the argument of STRING: a Python 2 str in
// quotes, with the escapes of Python's codecs.escape_decode.
func decodeQuotedString(l []byte) (string, error) {
	if len(l) < 2 || l[0] != l[len(l)-1] || l[0] != '\'' && l[0] != '"' {
		return "", errors.New("STRING argument not quoted")
	}
	return unescapeString(l[1 : len(l)-1])
}

// simpleEscapes maps the one-letter escapes of escape_decode.
var simpleEscapes = map[byte]byte{
	'\\': '\\', '\'': '\'', '"': '"', 'a': 7, 'b': 8, 't': 9, 'n': 10, 'v': 11, 'f': 12, 'r': 13,
}

// unescapeString decodes backslash escapes as codecs.escape_decode does:
// one-letter escapes, one to three octal digits, \x with two hex digits,
// and a backslash before anything else kept as it is.
func unescapeString(b []byte) (string, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		i++
		if i == len(b) {
			return "", errors.New("trailing backslash in STRING")
		}
		c, n, err := unescapeOne(b[i:])
		if err != nil {
			return "", err
		}
		out = append(out, c...)
		i += n - 1
	}
	return string(out), nil
}

// unescapeOne decodes the escape that follows a backslash at the start of
// b, returning its bytes and how many bytes of b it took.
func unescapeOne(b []byte) ([]byte, int, error) {
	c := b[0]
	if v, ok := simpleEscapes[c]; ok {
		return []byte{v}, 1, nil
	}
	switch {
	case c == '\n':
		return nil, 1, nil
	case c >= '0' && c <= '7':
		v, n := 0, 0
		for n < 3 && n < len(b) && b[n] >= '0' && b[n] <= '7' {
			v = v*8 + int(b[n]-'0')
			n++
		}
		return []byte{byte(v)}, n, nil
	case c == 'x':
		if len(b) < 3 {
			return nil, 0, errors.New("truncated \\x escape")
		}
		v, err := strconv.ParseUint(string(b[1:3]), 16, 8)
		if err != nil {
			return nil, 0, errors.New("bad \\x escape")
		}
		return []byte{byte(v)}, 3, nil
	}
	return []byte{'\\', c}, 1, nil
}
