package app

import (
	"context"
	"io"

	"github.com/basaltdev/basalt/internal/devkafka"
)

// DevKafkaConfig configures "basalt dev kafka".
type DevKafkaConfig = devkafka.Config

// devKafkaCmd's flags are read from the command line only (noresolve): the
// environment and config file of serve (BASALT_ADDR, BASALT_DATA_DIR) must
// not move the development cluster onto serve's port or data directory.
type devKafkaCmd struct {
	Addr    string `help:"Listen address of the first broker; further brokers take the next ports." default:"127.0.0.1:9092" placeholder:"HOST:PORT" noresolve:""`
	Brokers int    `help:"How many brokers to start." default:"1" noresolve:""`
	DataDir string `name:"data-dir" help:"Directory that keeps topics, records and committed offsets across restarts; without it they live in memory." placeholder:"DIR" noresolve:""`
}

func (f devKafkaCmd) apply(cfg *Config) {
	cfg.DevKafka = DevKafkaConfig{Addr: f.Addr, Brokers: f.Brokers, DataDir: f.DataDir}
}

// DevKafka runs a Kafka development cluster in this process ("basalt dev
// kafka") until ctx ends, printing its bootstrap address to out.
func DevKafka(ctx context.Context, cfg Config, out io.Writer) error {
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	dc := cfg.DevKafka
	dc.Logger = log
	return devkafka.Run(ctx, dc, out)
}
