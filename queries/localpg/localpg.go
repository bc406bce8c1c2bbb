// Package localpg starts a throwaway PostgreSQL cluster from the binaries
// installed on the machine: initdb and pg_ctl on PATH or under
// /usr/lib/postgresql/*/bin. It listens on a unix socket in a temporary
// directory only, so it never collides with a server already running. The
// test harness and `loanremind demo` use it when no database is given.
package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoBinaries means initdb or pg_ctl could not be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin: install them, e.g. `apt-get install postgresql`")

// Cluster is a running throwaway cluster.
type Cluster struct {
	Dir     string // data directory and socket directory live below it
	binDir  string
	dataDir string
	sockDir string
	port    int
	cred    *syscall.Credential
	keep    bool
}

// Options tune Start.
type Options struct {
	// Port is the port number in the socket's name (no TCP listener is
	// opened). Zero picks 5432.
	Port int
	// Log receives initdb's and the server's startup output; nil discards it.
	Log func(format string, args ...any)
}

// FindBinaries returns the directory holding initdb and pg_ctl.
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first.
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start creates and starts a new cluster in a fresh temporary directory.
// PostgreSQL refuses to run as root, so when the process is root the server
// runs as the "postgres" (or "nobody") user.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	if opts.Port == 0 {
		opts.Port = 5432
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dir, err := os.MkdirTemp("", "loanremind-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Dir:     dir,
		binDir:  binDir,
		dataDir: filepath.Join(dir, "data"),
		sockDir: dir,
		port:    opts.Port,
	}
	if os.Geteuid() == 0 {
		cred, err := unprivilegedUser()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.cred = cred
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	out, err := c.command(ctx, "initdb", "-D", c.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	logf("initdb: %s", bytes.TrimSpace(out))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, lastLines(out))
	}
	// No TCP listener, fsync off: the cluster holds throwaway data only.
	serverOpts := strings.Join([]string{
		"-c listen_addresses=''",
		"-k " + c.sockDir,
		"-p " + strconv.Itoa(c.port),
		"-c fsync=off",
		"-c synchronous_commit=off",
		"-c full_page_writes=off",
		"-c max_connections=200",
		"-c shared_buffers=256MB",
		"-c max_wal_size=4GB",
		"-c checkpoint_timeout=30min",
	}, " ")
	out, err = c.command(ctx, "pg_ctl", "-D", c.dataDir, "-o", serverOpts, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start")
	logf("pg_ctl start: %s", bytes.TrimSpace(out))
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %w: %s %s", err, lastLines(out), lastLines(log))
	}
	return c, nil
}

// URL returns a connection URL for the given database as the superuser.
func (c *Cluster) URL(database string) string {
	q := url.Values{}
	q.Set("host", c.sockDir)
	q.Set("port", strconv.Itoa(c.port))
	q.Set("user", "postgres")
	q.Set("sslmode", "disable")
	return "postgres:///" + url.PathEscape(database) + "?" + q.Encode()
}

// Keep makes Stop leave the cluster running (for `demo --keep`).
func (c *Cluster) Keep() { c.keep = true }

// StopCommand is the shell command that stops the cluster by hand.
func (c *Cluster) StopCommand() string {
	return fmt.Sprintf("%s -D %s stop && rm -rf %s", filepath.Join(c.binDir, "pg_ctl"), c.dataDir, c.Dir)
}

// Stop shuts the server down fast and removes its directory.
func (c *Cluster) Stop() error {
	if c == nil || c.keep {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := c.command(ctx, "pg_ctl", "-D", c.dataDir, "-m", "fast", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, lastLines(out))
	}
	return os.RemoveAll(c.Dir)
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = c.Dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl start leaves the server running with our stdout open if we
	// capture through a pipe; a file avoids waiting for it.
	f, err := os.CreateTemp("", "loanremind-pg-out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	runErr := cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return out, runErr
}

func unprivilegedUser() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
