package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics and /healthz; mount adds other routes (the
// receipt endpoints) to the same mux.
func (d *Dispatcher) Handler(mount func(mux *http.ServeMux)) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{"status": "ok", "held": d.held()}
		code := http.StatusOK
		if e := d.lastErr.Load(); e != nil {
			body["status"], body["error"] = "failing", "the database does not answer (see the logs)"
			code = http.StatusServiceUnavailable
		}
		if err := d.fatal.Load(); err != nil {
			body["status"] = "stopped"
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(body)
	})
	if mount != nil {
		mount(mux)
	}
	return mux
}

// Serve runs the dispatcher (Run) and serves h on listen until ctx is
// done; ready, if set, is called with the address once it listens.
func (d *Dispatcher) Serve(ctx context.Context, listen string, h http.Handler, ready func(addr string)) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	d.log.WithField("addr", ln.Addr().String()).Info("serving /healthz, /metrics and receipts")
	if ready != nil {
		ready(ln.Addr().String())
	}
	runErr := d.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = err
	}
	return runErr
}
