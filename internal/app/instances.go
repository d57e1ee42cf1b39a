package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/storage/migration"
)

// heartbeatEvery is how often a serving process renews its row in the
// database's instance registry; an instance not seen for liveWithin is
// taken as gone (killed, crashed, cut off).
const (
	heartbeatEvery = 10 * time.Second
	liveWithin     = 3 * heartbeatEvery
)

// knownMigration is implemented by both engines' stores.
type knownMigration interface{ KnownMigration() int64 }

// instanceComponent records this process in the registry of db while it
// serves, so that "basalt migrate --phase contract" sees which releases
// still run; nil when the store keeps no registry.
func instanceComponent(cfg Config, db database, targets string, log *slog.Logger) *component {
	r, ok := db.Store.(docstore.InstanceRegistry)
	k, ok2 := db.Store.(knownMigration)
	if !ok || !ok2 {
		return nil
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id) // crypto/rand.Read never fails
	host, _ := os.Hostname()
	in := docstore.Instance{ID: hex.EncodeToString(id), Version: cfg.Version, Migration: k.KnownMigration(),
		Host: host, Targets: targets, StartedAt: time.Now()}
	return &component{name: "instance registry", run: func(ctx context.Context) error {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			// A failed heartbeat is not the process's failure: the
			// database's own checks report an outage.
			if err := r.Heartbeat(ctx, in); err != nil && ctx.Err() == nil {
				log.Warn("recording this process in the instance registry failed", "err", err)
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				lctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if err := r.Leave(lctx, in.ID); err != nil {
					log.Warn("leaving the instance registry failed", "err", err)
				}
				return nil
			}
		}
	}}
}

// liveInstances lists the processes on db seen within liveWithin; nil
// when the store keeps no registry.
func liveInstances(ctx context.Context, db database) ([]docstore.Instance, error) {
	r, ok := db.Store.(docstore.InstanceRegistry)
	if !ok {
		return nil, nil
	}
	return r.Instances(ctx, time.Now().Add(-liveWithin))
}

// contractBlockers are the live instances that predate a pending contract
// migration: their binary does not know it, so it may remove what they
// use.
func contractBlockers(ms []migration.Migration, live []docstore.Instance) []docstore.Instance {
	var highest int64
	for _, m := range ms {
		if !m.Applied && m.Phase == migration.Contract {
			highest = max(highest, m.Version)
		}
	}
	var out []docstore.Instance
	for _, in := range live {
		if in.Migration < highest {
			out = append(out, in)
		}
	}
	return out
}

// describeInstances is one line per version: how many processes, where,
// and the migrations they know.
func describeInstances(live []docstore.Instance) []string {
	type group struct {
		version   string
		migration int64
		hosts     []string
	}
	groups := map[string]*group{}
	for _, in := range live {
		key := fmt.Sprintf("%s/%d", in.Version, in.Migration)
		g := groups[key]
		if g == nil {
			g = &group{version: in.Version, migration: in.Migration}
			groups[key] = g
		}
		g.hosts = append(g.hosts, in.Host)
	}
	var lines []string
	for _, g := range groups {
		sort.Strings(g.hosts)
		lines = append(lines, fmt.Sprintf("%d process(es) of %s (knows migrations up to %d) on %s",
			len(g.hosts), g.version, g.migration, strings.Join(g.hosts, ", ")))
	}
	sort.Strings(lines)
	return lines
}
