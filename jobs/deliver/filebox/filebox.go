// Package filebox is the file provider: it appends each message to a file
// as one JSON line, for the demo and for local runs. Appending twice
// writes the line twice, so it is not idempotent: a claim that lapsed mid
// call becomes unknown, as with a carrier.
package filebox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/loanremind/loanremind/jobs/deliver"
)

// Provider appends messages to a file.
type Provider struct {
	name string
	now  func() time.Time
	mu   sync.Mutex
	f    *os.File
}

// Line is one line of the file.
type Line struct {
	ID           int64     `json:"id"`
	Channel      string    `json:"channel"`
	To           string    `json:"to"`
	Subject      string    `json:"subject,omitempty"`
	Body         string    `json:"body"`
	ScheduledFor time.Time `json:"scheduled_for"`
	ValidUntil   time.Time `json:"valid_until"`
	WrittenAt    time.Time `json:"written_at"`
	Attempt      int       `json:"attempt"`
}

// New opens (or creates, readable by its owner only: it holds phone
// numbers and bodies) the file at path for appending. now is the clock of
// written_at (nil: the wall clock).
func New(name, path string, now func() time.Time) (*Provider, error) {
	if path == "" {
		return nil, fmt.Errorf("file provider %q: no path", name)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("file provider %q: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("file provider %q: %w", name, err)
	}
	if now == nil {
		now = time.Now
	}
	return &Provider{name: name, now: now, f: f}, nil
}

// Name is the configured name.
func (p *Provider) Name() string { return p.name }

// Type is "file".
func (p *Provider) Type() string { return "file" }

// Idempotent: a repeat is a second line.
func (p *Provider) Idempotent() bool { return false }

// Send appends the message in one write.
func (p *Provider) Send(ctx context.Context, m *deliver.Message) (deliver.Receipt, error) {
	b, err := json.Marshal(Line{ID: m.SendID, Channel: m.Channel, To: m.To, Subject: m.Subject, Body: m.Body,
		ScheduledFor: m.ScheduledFor.UTC(), ValidUntil: m.ValidUntil.UTC(), WrittenAt: p.now().UTC(), Attempt: m.Attempt})
	if err != nil {
		return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: "encode", Message: "the message cannot be encoded"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.f.Write(append(b, '\n')); err != nil {
		return deliver.Receipt{}, &deliver.Error{Code: "write", Message: "the file cannot be written"}
	}
	return deliver.Receipt{ProviderMessageID: "file-" + strconv.FormatInt(m.SendID, 10)}, nil
}

// Close closes the file.
func (p *Provider) Close() error { return p.f.Close() }
