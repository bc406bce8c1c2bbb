package audit

import (
	"sort"
	"strconv"
	"unicode/utf8"
)

// Object builds a JSON object whose text is exactly what PostgreSQL prints
// for the same value stored as jsonb: keys ordered shorter first, then
// bytewise; ", " and ": " between elements; strings escaped as jsonb does.
// Hashing this text at write time and jsonb::text at verify time then gives
// the same bytes, with no JSON parsing on either side.
type Object struct {
	fields []field
}

type field struct {
	key   string
	value []byte // encoded value
}

// String adds a string member.
func (o *Object) String(key, value string) *Object {
	o.fields = append(o.fields, field{key, appendString(nil, value)})
	return o
}

// Int adds an integer member.
func (o *Object) Int(key string, value int64) *Object {
	o.fields = append(o.fields, field{key, strconv.AppendInt(nil, value, 10)})
	return o
}

// Bool adds a boolean member.
func (o *Object) Bool(key string, value bool) *Object {
	o.fields = append(o.fields, field{key, strconv.AppendBool(nil, value)})
	return o
}

// Strings adds an array of strings.
func (o *Object) Strings(key string, values []string) *Object {
	b := []byte{'['}
	for i, v := range values {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendString(b, v)
	}
	o.fields = append(o.fields, field{key, append(b, ']')})
	return o
}

// Object adds a nested object.
func (o *Object) Object(key string, value *Object) *Object {
	o.fields = append(o.fields, field{key, value.AppendTo(nil)})
	return o
}

// Objects adds an array of objects.
func (o *Object) Objects(key string, values []*Object) *Object {
	o.fields = append(o.fields, field{key, AppendArray(nil, values)})
	return o
}

// Len is the number of members.
func (o *Object) Len() int { return len(o.fields) }

// AppendTo appends the object's jsonb text to b. Later members replace
// earlier ones with the same key, as jsonb keeps the last.
func (o *Object) AppendTo(b []byte) []byte {
	fields := o.fields
	sort.SliceStable(fields, func(i, j int) bool {
		a, c := fields[i].key, fields[j].key
		if len(a) != len(c) {
			return len(a) < len(c)
		}
		return a < c
	})
	b = append(b, '{')
	n := 0
	for i, f := range fields {
		if i+1 < len(fields) && fields[i+1].key == f.key {
			continue // a later duplicate wins
		}
		if n > 0 {
			b = append(b, ", "...)
		}
		b = appendString(b, f.key)
		b = append(b, ": "...)
		b = append(b, f.value...)
		n++
	}
	return append(b, '}')
}

// Text returns the object's jsonb text.
func (o *Object) Text() string { return string(o.AppendTo(nil)) }

// AppendArray appends a jsonb array of objects.
func AppendArray(b []byte, values []*Object) []byte {
	b = append(b, '[')
	for i, v := range values {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = v.AppendTo(b)
	}
	return append(b, ']')
}

// AppendString appends s as a JSON string exactly as jsonb prints it; for
// writers that build a fixed object by hand in jsonb's key order.
func AppendString(b []byte, s string) []byte { return appendString(b, s) }

// appendString escapes s as PostgreSQL's escape_json does: quotes,
// backslashes and control characters; everything else, non-ASCII
// included, is written as is. Invalid UTF-8 is replaced, as the server
// would reject it.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
		i++
	}
	return append(b, '"')
}
