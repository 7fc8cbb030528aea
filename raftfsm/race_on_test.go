//go:build race

package raftfsm

// raceOn: the race detector pads small allocations, so heap sizes differ.
const raceOn = true
