// Package devkafka runs an in-process Kafka-protocol cluster (franz-go's
// kfake) for people trying Basalt's Kafka bus by hand: `basalt dev kafka`.
// It is not a production broker: it keeps everything in memory unless
// given a data directory, and it has no replication, quotas or security.
package devkafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config configures a development cluster.
type Config struct {
	// Addr is the first broker's listen address (host:port); each further
	// broker listens on the next port. Port 0 picks free ports.
	Addr string
	// Brokers is how many brokers to start (at least 1).
	Brokers int
	// DataDir, when set, keeps the cluster's topics, records and
	// committed offsets there across restarts; empty keeps them in memory.
	DataDir string
	// Logger receives the cluster's warnings and errors.
	Logger *slog.Logger
}

// Cluster is a running development cluster.
type Cluster struct {
	c *kfake.Cluster
}

// Start starts a cluster as cfg says.
func Start(cfg Config) (*Cluster, error) {
	if cfg.Brokers < 1 {
		return nil, errors.New("dev kafka: --brokers must be at least 1")
	}
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dev kafka: --addr %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port+cfg.Brokers-1 > 65535 {
		return nil, fmt.Errorf("dev kafka: --addr %q: not a usable port", cfg.Addr)
	}
	ports := make([]int, cfg.Brokers)
	for i := range ports {
		if port != 0 {
			ports[i] = port + i
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opts := []kfake.Opt{
		kfake.Ports(ports...),
		// kfake listens on 127.0.0.1; this puts each broker on the
		// host of --addr instead, with kfake's port.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.WithLogger(logger{cfg.Logger}),
		// Tools such as kcat may produce to topics that do not exist.
		kfake.AllowAutoTopicCreation(),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir), kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("dev kafka: %w", err)
	}
	return &Cluster{c: c}, nil
}

// Addrs returns the brokers' addresses (host:port each).
func (c *Cluster) Addrs() []string { return c.c.ListenAddrs() }

// Close stops the cluster, writing its state to the data directory first
// when it has one.
func (c *Cluster) Close() { c.c.Close() }

// Run starts a cluster, prints its bootstrap address (for --kafka) to out
// and runs until ctx ends.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	c, err := Start(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	addrs := strings.Join(c.Addrs(), ",")
	where := "in memory (gone when it stops)"
	if cfg.DataDir != "" {
		where = "in " + cfg.DataDir
	}
	_, err = fmt.Fprintf(out, "Kafka development cluster: %d broker(s) on %s, data %s.\n"+
		"Start Basalt with:  basalt serve --kafka %s\n"+
		"Stop with Ctrl-C.\n", cfg.Brokers, addrs, where, addrs)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// logger hands kfake's warnings and errors to slog.
type logger struct{ l *slog.Logger }

func (l logger) Logf(level kfake.LogLevel, format string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.l.Error("dev kafka: " + fmt.Sprintf(format, args...))
	case kfake.LogLevelWarn:
		l.l.Warn("dev kafka: " + fmt.Sprintf(format, args...))
	}
}
