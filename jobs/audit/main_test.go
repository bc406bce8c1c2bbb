package audit_test

import (
	"testing"

	"github.com/loanremind/loanremind/queries/pgtest"
)

// TestMain runs the package's tests against real PostgreSQL.
func TestMain(m *testing.M) { pgtest.Main(m) }
