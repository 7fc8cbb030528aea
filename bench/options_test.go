package bench

import (
	"strings"
	"testing"
)

func TestOptionsDefaultsAreValid(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Fatalf("zero Options: %v", err)
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("DefaultOptions: %v", err)
	}
	if o := (Options{Concurrency: 100}).withDefaults(); o.Conns != MaxConns {
		t.Fatalf("Conns default with 100 workers is %d, want %d", o.Conns, MaxConns)
	}
	if o := (Options{Conns: 5}).withDefaults(); o.LikesConns != 5 {
		t.Fatalf("LikesConns default with Conns 5 is %d, want 5 (the same on both sides)", o.LikesConns)
	}
}

func TestOptionsValidateReportsEveryProblem(t *testing.T) {
	o := Options{
		Games:        -1,
		ZipfExponent: -2,
		Mix:          Mix{Has: 50, Like: -5},
		Concurrency:  MaxConcurrency + 1,
		Depth:        -3,
		Conns:        MaxConns + 1,
		LikesConns:   -1,
		BatchSize:    MaxBatchSize + 1,
		HitRatio:     1.5,
		SampleGames:  -1,
	}
	err := o.Validate()
	if err == nil {
		t.Fatal("Validate accepted broken options")
	}
	for _, want := range []string{"Games is -1", "ZipfExponent is -2", "Mix.Like is -5", "Mix adds up to 45%",
		"Concurrency is 4097", "Depth is -3", "Conns is 65", "LikesConns is -1", "BatchSize is 1025", "HitRatio is 1.5", "SampleGames is -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate's error lacks %q:\n%v", want, err)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n < 10 {
		t.Errorf("Validate reported %d problems, want every one (≥ 10):\n%v", n, err)
	}
}

func TestOptionsUserSpaceMustCoverLanes(t *testing.T) {
	err := Options{UserSpace: 10, Concurrency: 4, Depth: 4}.Validate()
	if err == nil || !strings.Contains(err.Error(), "UserSpace is 10") {
		t.Fatalf("UserSpace smaller than the lanes: got %v", err)
	}
}
