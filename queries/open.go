package queries

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"net"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// readBuffer is how much of a connection's incoming data is read at once.
// lib/pq reads through a 4 KiB buffer: a run's candidate stream or a
// verification of a million audit rows then costs a system call every few
// rows. Reading 256 KiB at a time underneath it costs a fraction of that.
const readBuffer = 256 << 10

// Open opens a pool on the PostgreSQL database at url (a URL or key=value
// DSN), with connections that read in large blocks. It does not connect.
func Open(url string) (*sqlx.DB, error) {
	c, err := pq.NewConnector(withApplicationName(url))
	if err != nil {
		return nil, err
	}
	c.Dialer(bufferedDialer{})
	return sqlx.NewDb(sql.OpenDB(rawTextConnector{c}), "postgres"), nil
}

// rawTextConnector makes each new connection to a SQL_ASCII database read
// text as the bytes it holds (client_encoding SQL_ASCII): a lender's
// SQL_ASCII database may hold any bytes, and with client_encoding UTF8 the
// server refuses to send a row with one that is not UTF-8, which would
// fail the whole query. The jobs check what they read is UTF-8 and skip
// what is not (policy.ReasonInvalidEncoding). Other databases convert to
// UTF-8 as usual.
type rawTextConnector struct{ *pq.Connector }

func (c rawTextConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		return conn, nil
	}
	if _, err := ex.ExecContext(ctx, stmt("RawTextOnSQLASCII"), nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// withApplicationName gives a connection string ApplicationName as the
// fallback application_name (one the string names wins): the job tells the
// holder of its lane lock by it.
func withApplicationName(dsn string) string {
	if strings.Contains(dsn, "application_name") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := neturl.Parse(dsn)
		if err != nil {
			return dsn // pq reports the error
		}
		q := u.Query()
		q.Set("fallback_application_name", ApplicationName)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " fallback_application_name=" + ApplicationName
}

// bufferedDialer dials like lib/pq's default dialer and wraps the
// connection in a large read buffer.
type bufferedDialer struct{}

func (bufferedDialer) Dial(network, address string) (net.Conn, error) {
	return bufferedDialer{}.DialContext(context.Background(), network, address)
}

func (bufferedDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return bufferedDialer{}.DialContext(ctx, network, address)
}

func (bufferedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer // as lib/pq's own dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, readBuffer)}, nil
}

// bufferedConn is a connection whose reads go through a buffer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
