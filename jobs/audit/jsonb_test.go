package audit_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode"

	"pgregory.net/rapid"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// The audit hashes the jsonb columns as the text audit.Object writes at
// insert time, and verification hashes what PostgreSQL prints for the
// stored jsonb (jsonb::text). The two must be the same bytes for every
// value, or an untouched trail fails to verify. These tests ask a real
// server.

// gObject is a generated JSON object: the members in the order they were
// added, duplicates included (jsonb keeps the last).
type gObject struct{ members []gMember }

type gMember struct {
	key  string
	kind string // "string", "int", "bool", "strings", "object", "objects"
	str  string
	num  int64
	b    bool
	strs []string
	obj  *gObject
	objs []*gObject
}

// build adds the members to an audit.Object in order.
func (g *gObject) build() *audit.Object {
	o := &audit.Object{}
	for _, m := range g.members {
		switch m.kind {
		case "string":
			o.String(m.key, m.str)
		case "int":
			o.Int(m.key, m.num)
		case "bool":
			o.Bool(m.key, m.b)
		case "strings":
			o.Strings(m.key, m.strs)
		case "object":
			o.Object(m.key, m.obj.build())
		case "objects":
			objs := make([]*audit.Object, len(m.objs))
			for i, c := range m.objs {
				objs[i] = c.build()
			}
			o.Objects(m.key, objs)
		}
	}
	return o
}

// value is the object as Go values, the last duplicate winning.
func (g *gObject) value() map[string]any {
	v := make(map[string]any, len(g.members))
	for _, m := range g.members {
		switch m.kind {
		case "string":
			v[m.key] = m.str
		case "int":
			v[m.key] = m.num
		case "bool":
			v[m.key] = m.b
		case "strings":
			s := append([]string{}, m.strs...) // [] rather than null when empty
			v[m.key] = s
		case "object":
			v[m.key] = m.obj.value()
		case "objects":
			objs := make([]any, len(m.objs))
			for i, c := range m.objs {
				objs[i] = c.value()
			}
			v[m.key] = objs
		}
	}
	return v
}

// Strings that have tripped JSON encoders: quotes, backslashes, what looks
// like an escape, every kind of control character, non-ASCII of 2, 3 and 4
// bytes, joiners, separators JavaScript treats as line ends, the BOM, the
// replacement character, the last code point. NUL is left out: PostgreSQL
// text cannot hold it, so no stored value has it.
var trickyStrings = []string{
	"", " ", `"`, `\`, `\\`, `\"`, `"\"`, `\u0041`, `\n`, "\b\f\n\r\t", "\x01\x02\x1f", "\x7f", "a\x1bb",
	"é", "中文", "【安心金融】", "😀", "👩‍👩‍👧", "e\u0301", "\u2028\u2029", "\ufeff", "\ufffd", "\U0010ffff",
	"/", "</script>", "<>&", "'", "{}", "[]", "null", "true", "0", "-0", "1e3",
	strings.Repeat("x", 300), strings.Repeat("😀", 70),
}

var trickyRunes = []rune{'"', '\\', '/', '\b', '\f', '\n', '\r', '\t', 0x01, 0x1f, 0x7f, 'a', 'Z', ' ', 'u',
	'é', 'ß', '中', '😀', 0x200d, 0x2028, 0xfeff, 0xfffd, 0x10ffff}

func genString() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.SampledFrom(trickyStrings),
		rapid.StringOf(rapid.RuneFrom(trickyRunes)),
		rapid.StringOf(rapid.RuneFrom(nil, unicode.Cc, unicode.Han, unicode.Latin, unicode.So, unicode.Zs).
			Filter(func(r rune) bool { return r != 0 })),
		rapid.StringOf(rapid.Rune().Filter(func(r rune) bool { return r != 0 })),
	)
}

// genKey draws keys from a small pool often, so that objects get
// duplicate keys and keys that differ only in length or in one byte.
func genKey() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.SampledFrom([]string{"", "a", "b", "B", "aa", "ab", "ba", "id", "zone", "é", "😀", "a\"b", "a\\b", "\n",
			"run", "seq", "amount_due_minor", "currency"}),
		genString(),
	)
}

func genInt() *rapid.Generator[int64] {
	return rapid.OneOf(
		rapid.Int64(),
		rapid.Int64Range(-1000, 1000),
		rapid.SampledFrom([]int64{0, -1, 1, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1,
			1 << 53, 1<<53 + 1, -(1<<53 + 1), 1e15, -1e18, math.MaxInt32 + 1, math.MinInt32 - 1}),
	)
}

func drawObject(t *rapid.T, depth int) *gObject {
	n := rapid.IntRange(0, 7).Draw(t, "members")
	g := &gObject{}
	kinds := []string{"string", "int", "bool", "strings"}
	if depth > 0 {
		kinds = append(kinds, "object", "objects")
	}
	for range n {
		m := gMember{key: genKey().Draw(t, "key"), kind: rapid.SampledFrom(kinds).Draw(t, "kind")}
		switch m.kind {
		case "string":
			m.str = genString().Draw(t, "string")
		case "int":
			m.num = genInt().Draw(t, "int")
		case "bool":
			m.b = rapid.Bool().Draw(t, "bool")
		case "strings":
			m.strs = rapid.SliceOfN(genString(), 0, 4).Draw(t, "strings")
		case "object":
			m.obj = drawObject(t, depth-1)
		case "objects":
			for range rapid.IntRange(0, 3).Draw(t, "objects") {
				m.objs = append(m.objs, drawObject(t, depth-1))
			}
		}
		g.members = append(g.members, m)
	}
	return g
}

// pgJSONB returns what PostgreSQL prints for text stored as jsonb, and
// whether that value equals the one encoding/json gives for want.
func pgJSONB(ctx context.Context, db *sql.DB, text string, want any) (string, bool, error) {
	wantJSON, err := json.Marshal(want)
	if err != nil {
		return "", false, err
	}
	var out string
	var same bool
	err = db.QueryRowContext(ctx, `SELECT $1::jsonb::text, $1::jsonb = $2::jsonb`, text, string(wantJSON)).Scan(&out, &same)
	return out, same, err
}

func TestObjectTextIsJSONBText(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t).DB
	ctx := context.Background()
	rapid.Check(t, func(t *rapid.T) {
		g := drawObject(t, 3)
		o := g.build()
		text := o.Text()
		got, same, err := pgJSONB(ctx, db, text, g.value())
		if err != nil {
			t.Fatalf("PostgreSQL rejects the text %q: %v", text, err)
		}
		if got != text {
			t.Fatalf("audit.Object text differs from jsonb::text:\n object: %q\n jsonb:  %q", text, got)
		}
		if !same {
			t.Fatalf("audit.Object text %q means another value than the members added", text)
		}
		// Writing it again gives the same bytes (AppendTo sorts in place).
		if again := string(o.AppendTo([]byte("x"))); again != "x"+text {
			t.Fatalf("second AppendTo: %q, first %q", again, text)
		}
	})
}

func TestAppendArrayIsJSONBText(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t).DB
	ctx := context.Background()
	rapid.Check(t, func(t *rapid.T) {
		var objs []*audit.Object
		var want []any
		for range rapid.IntRange(0, 4).Draw(t, "elements") {
			g := drawObject(t, 2)
			objs = append(objs, g.build())
			want = append(want, g.value())
		}
		if want == nil {
			want = []any{}
		}
		text := string(audit.AppendArray([]byte("prefix"), objs))
		text, ok := strings.CutPrefix(text, "prefix")
		if !ok {
			t.Fatalf("AppendArray did not append: %q", text)
		}
		got, same, err := pgJSONB(ctx, db, text, want)
		if err != nil {
			t.Fatalf("PostgreSQL rejects the text %q: %v", text, err)
		}
		if got != text || !same {
			t.Fatalf("AppendArray text differs from jsonb::text (same value: %v):\n array: %q\n jsonb: %q", same, text, got)
		}
	})
}

// TestObjectTextExamples pins a few cases by hand, each checked against the
// server too: key order (shorter first, then bytewise), the last duplicate
// winning, escapes, and what the job itself writes.
func TestObjectTextExamples(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t).DB
	ctx := context.Background()
	for _, c := range []struct {
		name string
		o    *audit.Object
		want string
	}{
		{"empty", &audit.Object{}, `{}`},
		{"order", (&audit.Object{}).Int("bb", 2).Int("a", 1).Int("B", 0).Int("ab", 3).Int("", -1),
			`{"": -1, "B": 0, "a": 1, "ab": 3, "bb": 2}`},
		{"byte length, not runes", (&audit.Object{}).Bool("é", true).Bool("ab", false).Bool("b", true),
			`{"b": true, "ab": false, "é": true}`},
		{"last duplicate wins", (&audit.Object{}).String("k", "first").Int("x", 1).Int("k", 2).Bool("k", true),
			`{"k": true, "x": 1}`},
		{"escapes", (&audit.Object{}).String("s", "\"\\/\b\f\n\r\t\x01\x1f\x7f"),
			`{"s": "\"\\/\b\f\n\r\t\u0001\u001f` + "\x7f" + `"}`},
		{"non-ASCII as is", (&audit.Object{}).String("s", "【安心金融】😀\u2028"), `{"s": "【安心金融】😀` + "\u2028" + `"}`},
		{"invalid UTF-8 is replaced", (&audit.Object{}).String("s", "a\xffb"), `{"s": "a` + "\ufffd" + `b"}`},
		{"ints", (&audit.Object{}).Int("min", math.MinInt64).Int("max", math.MaxInt64).Int("zero", 0),
			`{"max": 9223372036854775807, "min": -9223372036854775808, "zero": 0}`},
		{"arrays", (&audit.Object{}).Strings("e", nil).Strings("s", []string{"a", ""}).Objects("o", []*audit.Object{{}, (&audit.Object{}).Int("n", 1)}),
			`{"e": [], "o": [{}, {"n": 1}], "s": ["a", ""]}`},
		{"nested", (&audit.Object{}).Object("in", (&audit.Object{}).String("zone", "Asia/Shanghai").String("source", "phone")),
			`{"in": {"zone": "Asia/Shanghai", "source": "phone"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := c.o.Text()
			if text != c.want {
				t.Errorf("%s: text %s, want %s", c.name, text, c.want)
			}
			var got string
			if err := db.QueryRowContext(ctx, `SELECT $1::jsonb::text`, text).Scan(&got); err != nil {
				t.Errorf("%s: PostgreSQL rejects %q: %v", c.name, text, err)
			} else if got != text {
				t.Errorf("%s: jsonb::text is %q, audit.Object wrote %q", c.name, got, text)
			}
		})
	}
	if n := (&audit.Object{}).Int("a", 1).Int("a", 2).Len(); n != 2 {
		t.Errorf("Len counts the members added: %d, want 2", n)
	}
}

// TestObjectTextStoredAndRead goes the way the job goes: the text is
// written into reminder_audit's jsonb columns, and read back as
// verification reads it.
func TestObjectTextStoredAndRead(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t).DB
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE j (id int, v jsonb)`); err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		text := drawObject(t, 2).build().Text()
		var got string
		err := db.QueryRowContext(ctx, `WITH w AS (INSERT INTO j VALUES (1, $1::jsonb) RETURNING v) SELECT v::text FROM w`, text).Scan(&got)
		if err != nil {
			t.Fatalf("store %q: %v", text, err)
		}
		if got != text {
			t.Fatalf("stored %q, read back %q", text, got)
		}
	})
}
