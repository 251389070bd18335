//go:build race

package reliability_test

func init() { raceEnabled = true }
