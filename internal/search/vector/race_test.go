//go:build race

package vector_test

// raceEnabled: the race detector slows the distance loops about tenfold,
// so the recall tests use smaller sets under it.
const raceEnabled = true
