package jobs

import (
	"crypto/md5"
	"fmt"
	"strconv"
	"strings"
)

// Shard is one part of the borrowers, by a stable hash of the borrower id.
type Shard struct {
	Index int
	Count int
}

// String writes the shard as I/N.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ParseShard parses "I/N" with 0 <= I < N.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	idx, err1 := strconv.Atoi(strings.TrimSpace(i))
	cnt, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
		return Shard{}, fmt.Errorf("invalid shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return Shard{Index: idx, Count: cnt}, nil
}

// borrowerHash is the stable 28-bit hash that partitions borrowers into
// shards and lock stripes: the first seven hex digits of the MD5 of the
// decimal id. The candidate query computes the same in SQL.
func borrowerHash(id int64) uint32 {
	var buf [20]byte
	sum := md5.Sum(strconv.AppendInt(buf[:0], id, 10))
	return uint32(sum[0])<<20 | uint32(sum[1])<<12 | uint32(sum[2])<<4 | uint32(sum[3])>>4
}

// Of reports which shard of count a borrower belongs to.
func ShardOf(borrowerID int64, count int) int { return int(borrowerHash(borrowerID) % uint32(count)) }

// stripes is the number of lock stripes. Shard counts that divide it give
// shards disjoint stripes.
const stripes = 64

func stripeOf(borrowerID int64) int32 { return int32(borrowerHash(borrowerID) % stripes) }
