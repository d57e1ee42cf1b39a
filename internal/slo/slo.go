// Package slo turns Basalt's service-level objectives into Prometheus
// rules: the service-level indicators per route class, recorded over the
// windows the alerts read, and multi-window, multi-burn-rate alerts on
// the error budget (the scheme of Google's SRE workbook, chapter 5).
//
// The indicators come from the HTTP metrics every transport shares
// (basalt_http_requests_total and basalt_http_request_duration_seconds,
// labelled by class): availability is the share of requests answered
// without a server error (5xx), latency the share answered within a
// threshold. A request refused for the client's own fault (4xx, 429
// included) is served as designed and counts as good.
package slo

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v4"
)

// Classes are the route classes an objective may name, as the metrics'
// class label has them (apilimit.MetricClass).
var classes = []string{"read", "write", "auth", "search", "realtime"}

// Objectives are the service-level objectives of one Basalt deployment,
// as an objectives file states them.
type Objectives struct {
	// Window is the period the objectives hold over: the error budget is
	// the share of its requests an objective allows to fail.
	Window time.Duration
	// Objectives are the objectives per route class, in file order.
	Objectives []Objective
}

// Objective is the objective of one route class.
type Objective struct {
	Class string
	// Availability is the percentage of requests to answer without a
	// server error (5xx).
	Availability float64
	// Latency, when set, is the percentage of requests to answer within
	// a threshold.
	Latency *Latency
}

// Latency is a latency objective.
type Latency struct {
	// Threshold is a bound of the latency histogram's buckets.
	Threshold time.Duration
	// Target is the percentage of requests to answer within Threshold.
	Target float64
}

// file is the YAML form of Objectives.
type file struct {
	Window     string `yaml:"window"`
	Objectives []struct {
		Class        string   `yaml:"class"`
		Availability *float64 `yaml:"availability"`
		Latency      *struct {
			Threshold string   `yaml:"threshold"`
			Target    *float64 `yaml:"target"`
		} `yaml:"latency"`
	} `yaml:"objectives"`
}

// Parse reads an objectives file. buckets are the bounds (seconds) of the
// latency histogram: a latency threshold must be one of them, since the
// indicator counts the requests of the bucket at or below it. Every
// mistake is reported with where it is.
func Parse(data []byte, buckets []float64) (Objectives, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return Objectives{}, fmt.Errorf("objectives: %w", err)
	}
	var o Objectives
	w, err := parseDuration(f.Window)
	if err != nil {
		return Objectives{}, fmt.Errorf("objectives: window: %w", err)
	}
	if w < 7*24*time.Hour || w > 90*24*time.Hour {
		return Objectives{}, fmt.Errorf("objectives: window: %s is outside 7d to 90d", f.Window)
	}
	o.Window = w
	if len(f.Objectives) == 0 {
		return Objectives{}, errors.New("objectives: no objective: list at least one route class")
	}
	for i, fo := range f.Objectives {
		where := fmt.Sprintf("objectives[%d]", i)
		if !slices.Contains(classes, fo.Class) {
			return Objectives{}, fmt.Errorf("%s: class %q: want one of %s", where, fo.Class, strings.Join(classes, ", "))
		}
		where += " (" + fo.Class + ")"
		if slices.ContainsFunc(o.Objectives, func(x Objective) bool { return x.Class == fo.Class }) {
			return Objectives{}, fmt.Errorf("%s: the class has an objective already", where)
		}
		if fo.Availability == nil {
			return Objectives{}, fmt.Errorf("%s: availability is required", where)
		}
		if err := checkPercent(*fo.Availability); err != nil {
			return Objectives{}, fmt.Errorf("%s: availability: %w", where, err)
		}
		obj := Objective{Class: fo.Class, Availability: *fo.Availability}
		if l := fo.Latency; l != nil {
			if fo.Class == "realtime" {
				return Objectives{}, fmt.Errorf("%s: latency: an event stream's duration is its lifetime, not a latency: realtime has availability only", where)
			}
			d, err := parseDuration(l.Threshold)
			if err != nil {
				return Objectives{}, fmt.Errorf("%s: latency.threshold: %w", where, err)
			}
			if !slices.Contains(buckets, d.Seconds()) {
				return Objectives{}, fmt.Errorf("%s: latency.threshold: %s is not a bound of the latency histogram's buckets (%s)", where, l.Threshold, bucketList(buckets))
			}
			if l.Target == nil {
				return Objectives{}, fmt.Errorf("%s: latency.target is required", where)
			}
			if err := checkPercent(*l.Target); err != nil {
				return Objectives{}, fmt.Errorf("%s: latency.target: %w", where, err)
			}
			obj.Latency = &Latency{Threshold: d, Target: *l.Target}
		}
		o.Objectives = append(o.Objectives, obj)
	}
	return o, nil
}

// checkPercent accepts an objective's percentage: at least 50, below 100
// (an objective of 100 % has no error budget to burn).
func checkPercent(p float64) error {
	if math.IsNaN(p) || p < 50 || p >= 100 {
		return fmt.Errorf("%v: want a percentage from 50 to below 100", p)
	}
	return nil
}

// parseDuration reads a duration in Prometheus's notation (30d, 250ms,
// 1h30m).
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration such as 30d, 6h or 250ms", s)
	}
	return time.Duration(d), nil
}

// bucketList renders bucket bounds as durations.
func bucketList(buckets []float64) string {
	out := make([]string, len(buckets))
	for i, b := range buckets {
		out[i] = time.Duration(b * float64(time.Second)).String()
	}
	return strings.Join(out, ", ")
}
