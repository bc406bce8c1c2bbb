package audit

import "context"

// VerifyWith is Verify with workers walking segments of segmentRows rows
// or more: the tests split small runs the way Verify splits large ones.
func VerifyWith(ctx context.Context, db DB, f VerifyFilter, workers int, segmentRows int64) (*Report, error) {
	return verify(ctx, db, f, verifyOptions{workers: workers, segmentRows: segmentRows})
}
