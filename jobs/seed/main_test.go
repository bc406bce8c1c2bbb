package seed_test

import (
	"testing"

	"github.com/loanremind/loanremind/queries/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
