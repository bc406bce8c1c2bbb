package jobs_test

import (
	"math"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// shardExpr finds the shard predicate of the candidate query,
// `(<hash of b.id> % $4 = $3)`, and returns the hash expression.
func shardExpr(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../queries/candidates.sql")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\$4 = 1 OR (.+) % \$4 = \$3\)`).FindSubmatch(src)
	if m == nil || !strings.Contains(string(m[1]), "l.borrower_id") {
		t.Fatal("queries/candidates.sql: the shard predicate ($4 = 1 OR <hash of l.borrower_id> % $4 = $3) is not where this test looks for it")
	}
	// The test evaluates it over a column named b.id.
	return strings.ReplaceAll(string(m[1]), "l.borrower_id", "b.id")
}

// jobs.ShardOf and the candidate query put every borrower in the same shard:
// the full 28-bit hash agrees, and so does every shard count.
func TestShardOfAgreesWithTheCandidateQuery(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	expr := shardExpr(t)

	ids := make([]int64, 0, 10020)
	for id := int64(1); id <= 10000; id++ {
		ids = append(ids, id)
	}
	ids = append(ids, 0, -1, -987654321, 99999, 100000, 1<<31-1, 1<<31, 1<<32-1, 1<<32, 1<<32+7,
		12345678901234, 1<<53+1, math.MaxInt64-1, math.MaxInt64, math.MinInt64)

	counts := []int{1, 2, 3, 4, 7, 16, 64, 1000, 1 << 28}
	rows, err := db.Query(`SELECT b.id, n, (`+expr+`) % n
		FROM unnest($1::bigint[]) AS b (id), unnest($2::int[]) AS n`, pq.Array(ids), pq.Array(counts))
	if err != nil {
		t.Fatalf("the shard expression %s: %v", expr, err)
	}
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var id int64
		var n, shard int
		if err := rows.Scan(&id, &n, &shard); err != nil {
			t.Fatal(err)
		}
		if got := jobs.ShardOf(id, n); got != shard {
			t.Errorf("borrower %d of %d shards: jobs.ShardOf says %d, the candidate query %d", id, n, got, shard)
			if checked > 50 {
				t.FailNow()
			}
		}
		if got := jobs.ShardOf(id, n); got < 0 || got >= n {
			t.Errorf("jobs.ShardOf(%d, %d) = %d, out of range", id, n, got)
		}
		checked++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if checked != len(ids)*len(counts) {
		t.Fatalf("checked %d pairs, want %d", checked, len(ids)*len(counts))
	}
}

// Shards partition the borrowers: each id is in exactly one shard, and the
// shards are about equal.
func TestShardsPartitionEvenly(t *testing.T) {
	t.Parallel()
	const n, count = 100000, 4
	sizes := make([]int, count)
	for id := int64(1); id <= n; id++ {
		sizes[jobs.ShardOf(id, count)]++
	}
	for i, s := range sizes {
		if s < n/count*9/10 || s > n/count*11/10 {
			t.Errorf("shard %d/%d holds %d of %d borrowers: %v", i, count, s, n, sizes)
		}
	}
}

func TestParseShard(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want jobs.Shard
		ok   bool
	}{
		{"the only shard", "0/1", jobs.Shard{Index: 0, Count: 1}, true},
		{"the last shard", "3/4", jobs.Shard{Index: 3, Count: 4}, true},
		{"spaces", " 2 / 8 ", jobs.Shard{Index: 2, Count: 8}, true},
		{"index past the end", "4/4", jobs.Shard{}, false},
		{"negative index", "-1/4", jobs.Shard{}, false},
		{"no shards", "1/0", jobs.Shard{}, false},
		{"no count", "1", jobs.Shard{}, false},
		{"not numbers", "a/b", jobs.Shard{}, false},
		{"empty", "", jobs.Shard{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := jobs.ParseShard(tc.in)
			if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
				t.Errorf("ParseShard(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
			if tc.ok && got.String() != strings.ReplaceAll(tc.in, " ", "") {
				t.Errorf("Shard(%q).String() = %q", tc.in, got.String())
			}
		})
	}
}
