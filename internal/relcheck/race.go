//go:build race

package relcheck

func init() { RaceEnabled = true }
