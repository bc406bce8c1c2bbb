// Command loanremind finds loan installments coming due and overdue, decides
// per borrower whether, when and how to remind them, and writes the messages
// and the reasons for every decision to PostgreSQL. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // real time zones in every build, distroless included
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}
