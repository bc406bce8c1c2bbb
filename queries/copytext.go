package queries

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// The job's bulk writes encode their rows in COPY's text format while the
// batch is planned, on the planners' cores, and the writer only adds the
// columns known when the batch is sequenced (ids, chain hashes) and sends
// the bytes: database/sql's per-value conversions and lib/pq's per-row
// encoding cost the writer, the job's critical path, 2.4 s of a 1,000,000
// borrower run (measured with make bench).

// CopyRows holds rows in COPY's text format, each possibly without its
// last columns (see AppendRow).
type CopyRows struct {
	data []byte
	ends []int32 // where each row ends in data
}

// Begin returns the buffer to append the next row's columns to; End with
// the result closes the row.
func (r *CopyRows) Begin() []byte { return r.data }

// End closes a row begun with Begin.
func (r *CopyRows) End(b []byte) {
	r.data = b
	r.ends = append(r.ends, int32(len(b)))
}

// Len is the number of rows.
func (r *CopyRows) Len() int { return len(r.ends) }

// Row returns row i as appended.
func (r *CopyRows) Row(i int) []byte {
	start := int32(0)
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.data[start:r.ends[i]]
}

// Reset empties r, keeping its memory.
func (r *CopyRows) Reset() {
	r.data, r.ends = r.data[:0], r.ends[:0]
}

// Grow makes room for n more rows of about size bytes each, and some more:
// a buffer that is reused (see Reset) then fits the next batch of rows too.
func (r *CopyRows) Grow(n, size int) {
	if cap(r.ends)-len(r.ends) < n {
		r.ends = append(make([]int32, 0, len(r.ends)+n+n/4), r.ends...)
	}
	if cap(r.data)-len(r.data) < n*size {
		r.data = append(make([]byte, 0, len(r.data)+n*size+n*size/4), r.data...)
	}
}

// AppendText appends a text column and its tab: COPY's escapes for
// backslash, tab, newline and carriage return.
func AppendText(b []byte, s string) []byte {
	i := 0
	for i < len(s) && s[i] != '\\' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
		i++
	}
	b = append(b, s[:i]...) // most text has nothing to escape
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return append(b, '\t')
}

// AppendTextOrNull appends s, or NULL for "".
func AppendTextOrNull(b []byte, s string) []byte {
	if s == "" {
		return AppendNull(b)
	}
	return AppendText(b, s)
}

// AppendInt appends an integer column and its tab.
func AppendInt(b []byte, n int64) []byte {
	return append(strconv.AppendInt(b, n, 10), '\t')
}

// AppendBool appends a boolean column and its tab.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 't', '\t')
	}
	return append(b, 'f', '\t')
}

// AppendTime appends a timestamptz column (UTC, to the microsecond that
// PostgreSQL keeps: later digits are dropped, not rounded) and its tab;
// NULL for the zero time.
func AppendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return AppendNull(b)
	}
	t = t.UTC().Truncate(time.Microsecond)
	return append(t.AppendFormat(b, "2006-01-02 15:04:05.999999Z"), '\t')
}

// AppendNull appends NULL and its tab.
func AppendNull(b []byte) []byte { return append(b, '\\', 'N', '\t') }

// EndRow ends a row: its last column's tab becomes the newline.
func EndRow(b []byte) []byte {
	b[len(b)-1] = '\n'
	return b
}

// copyChunk is how much row text goes to the server in one message.
const copyChunk = 256 << 10

// chunks recycles the buffers rows are assembled in.
var chunks = sync.Pool{New: func() any {
	b := make([]byte, 0, copyChunk+copyChunk/4)
	return &b
}}

// CopyRowsInto loads n rows into table(columns...) with COPY, on conn,
// inside the transaction open on it: appendRow(b, i) appends row i whole
// (ending with EndRow). The rows go out in chunks as they are appended.
func CopyRowsInto(ctx context.Context, conn *sql.Conn, table string, columns []string, n int,
	appendRow func(b []byte, i int) []byte) error {
	// Raw closes the Conn when its function panics or returns
	// driver.ErrBadConn, and closing waits for the transaction open on it:
	// forever. So neither leaves the function; the transaction fails on
	// its next statement instead, and a panic goes on after Raw.
	var panicked any
	err := conn.Raw(func(dc any) (err error) {
		defer func() {
			if panicked = recover(); panicked != nil {
				err = errors.New("panic")
			}
		}()
		err = copyRaw(ctx, dc, table, columns, n, appendRow)
		if errors.Is(err, driver.ErrBadConn) {
			err = fmt.Errorf("the connection broke: %v", err) // not wrapped
		}
		return err
	})
	if panicked != nil {
		panic(panicked)
	}
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	return nil
}

// copyRaw runs the COPY on lib/pq's connection, sending the text of the
// rows as it is appended.
func copyRaw(ctx context.Context, dc any, table string, columns []string, n int, appendRow func(b []byte, i int) []byte) error {
	c, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return fmt.Errorf("driver connection %T cannot prepare COPY", dc)
	}
	// PrepareContext and CopyData give up when ctx ends (lib/pq cancels
	// the query); the closing Exec has no context, and statement_timeout
	// bounds what the server does with the last chunk.
	st, err := c.PrepareContext(ctx, copyStatement(table, columns))
	if err != nil {
		return err
	}
	defer st.Close()
	cp, ok := st.(interface {
		CopyData(ctx context.Context, line string) (driver.Result, error)
	})
	if !ok {
		return errors.New("the driver cannot stream COPY data (lib/pq 1.10.8 or later can)")
	}
	send := func(b []byte) error {
		// CopyData adds the last row's newline itself, and copies
		// the text before it returns.
		_, err := cp.CopyData(ctx, unsafe.String(unsafe.SliceData(b), len(b)-1))
		return err
	}
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	buf := (*bp)[:0]
	defer func() { *bp = buf[:0] }()
	for i := range n {
		buf = appendRow(buf, i)
		if len(buf) >= copyChunk {
			if err := send(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if err := send(buf); err != nil {
			return err
		}
	}
	// An Exec with no values ends the COPY and reports its errors.
	_, err = st.Exec(nil)
	return err
}
