package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Config is what a stack sets (pulumi config set basalt:<key> …; see
// Pulumi.yaml for every key and its default).
type Config struct {
	// Namespace holds every resource; CreateNamespace makes it.
	Namespace       string
	CreateNamespace bool
	// Image is the basalt image, ideally by digest (make image).
	Image string
	// Strategy is how a new version replaces the old: rolling (a
	// Deployment), canary or bluegreen (an Argo Rollouts Rollout analyzed
	// against the objectives).
	Strategy string
	// Replicas is the least number of pods; MaxReplicas the most the
	// autoscaler adds when CPU use passes TargetCPU percent.
	Replicas, MaxReplicas, TargetCPU int
	// Requests and limits of each pod.
	CPURequest, MemoryRequest, CPULimit, MemoryLimit string

	// Database is external (DatabaseURL) or cloudnativepg (a CloudNativePG
	// Cluster of PostgresInstances with PostgresStorage each).
	Database          string
	DatabaseURL       pulumi.StringInput // secret
	PostgresInstances int
	PostgresStorage   string
	// Redis is none (in-process limits and cache) or external (RedisURL).
	Redis    string
	RedisURL pulumi.StringInput // secret
	// Kafka is none (the in-process bus), external (KafkaBrokers) or
	// strimzi (a Strimzi Kafka cluster of KafkaReplicas brokers).
	Kafka         string
	KafkaBrokers  string
	KafkaReplicas int
	KafkaStorage  string

	// Monitoring makes the ServiceMonitor and the PrometheusRule of the
	// shipped alerts; MonitoringNamespace is where Prometheus runs (it
	// alone reaches the metrics port), PrometheusAddress where the
	// analysis queries it.
	Monitoring          bool
	MonitoringNamespace string
	PrometheusAddress   string
	// KeyRotation is the cron schedule of "basalt keys rotate" ("" for
	// none).
	KeyRotation string
	// DeployDir is the deploy/ directory of the Basalt repository: the
	// alert rules and the AnalysisTemplate are read from it.
	DeployDir string
}

// Defaults are the settings a stack starts from.
func Defaults() Config {
	return Config{
		Namespace: "basalt", CreateNamespace: true, Strategy: "rolling",
		Replicas: 3, MaxReplicas: 10, TargetCPU: 70,
		CPURequest: "500m", MemoryRequest: "512Mi", CPULimit: "2", MemoryLimit: "1Gi",
		Database: "external", PostgresInstances: 3, PostgresStorage: "20Gi",
		Redis: "none", Kafka: "none", KafkaReplicas: 3, KafkaStorage: "20Gi",
		Monitoring: true, MonitoringNamespace: "monitoring",
		PrometheusAddress: "http://prometheus-operated.monitoring.svc:9090",
		KeyRotation:       "0 3 1 * *",
		DeployDir:         "..",
	}
}

// loadConfig reads the stack's configuration over the defaults.
func loadConfig(ctx *pulumi.Context) (Config, error) {
	c := Defaults()
	k := config.New(ctx, "basalt")
	str := func(key string, v *string) {
		if s, ok := k.Try(key); ok == nil {
			*v = s
		}
	}
	num := func(key string, v *int) {
		if n, err := k.TryInt(key); err == nil {
			*v = n
		}
	}
	flag := func(key string, v *bool) {
		if b, err := k.TryBool(key); err == nil {
			*v = b
		}
	}
	str("namespace", &c.Namespace)
	flag("createNamespace", &c.CreateNamespace)
	str("image", &c.Image)
	str("strategy", &c.Strategy)
	num("replicas", &c.Replicas)
	num("maxReplicas", &c.MaxReplicas)
	num("targetCPU", &c.TargetCPU)
	str("cpuRequest", &c.CPURequest)
	str("memoryRequest", &c.MemoryRequest)
	str("cpuLimit", &c.CPULimit)
	str("memoryLimit", &c.MemoryLimit)
	str("database", &c.Database)
	num("postgresInstances", &c.PostgresInstances)
	str("postgresStorage", &c.PostgresStorage)
	str("redis", &c.Redis)
	str("kafka", &c.Kafka)
	str("kafkaBrokers", &c.KafkaBrokers)
	num("kafkaReplicas", &c.KafkaReplicas)
	str("kafkaStorage", &c.KafkaStorage)
	flag("monitoring", &c.Monitoring)
	str("monitoringNamespace", &c.MonitoringNamespace)
	str("prometheusAddress", &c.PrometheusAddress)
	str("keyRotation", &c.KeyRotation)
	str("deployDir", &c.DeployDir)
	if _, err := k.TrySecret("databaseUrl"); err == nil {
		c.DatabaseURL = k.RequireSecret("databaseUrl")
	}
	if _, err := k.TrySecret("redisUrl"); err == nil {
		c.RedisURL = k.RequireSecret("redisUrl")
	}
	return c, c.Validate()
}

// Validate says what is wrong with c, if anything.
func (c Config) Validate() error {
	switch {
	case c.Image == "":
		return fmt.Errorf("basalt:image is not set (the image to run, e.g. ghcr.io/you/basalt@sha256:…)")
	case c.Strategy != "rolling" && c.Strategy != "canary" && c.Strategy != "bluegreen":
		return fmt.Errorf("basalt:strategy %q: want rolling, canary or bluegreen", c.Strategy)
	case c.Replicas < 2:
		return fmt.Errorf("basalt:replicas %d: at least 2, so that a pod can be replaced while another serves", c.Replicas)
	case c.MaxReplicas < c.Replicas:
		return fmt.Errorf("basalt:maxReplicas %d is below basalt:replicas %d", c.MaxReplicas, c.Replicas)
	case c.Database == "external" && c.DatabaseURL == nil:
		return fmt.Errorf("basalt:database is external but basalt:databaseUrl is not set (pulumi config set --secret basalt:databaseUrl postgres://…)")
	case c.Database != "external" && c.Database != "cloudnativepg":
		return fmt.Errorf("basalt:database %q: want external or cloudnativepg", c.Database)
	case c.Redis == "external" && c.RedisURL == nil:
		return fmt.Errorf("basalt:redis is external but basalt:redisUrl is not set (pulumi config set --secret basalt:redisUrl redis://…)")
	case c.Redis != "none" && c.Redis != "external":
		return fmt.Errorf("basalt:redis %q: want none or external", c.Redis)
	case c.Kafka == "external" && c.KafkaBrokers == "":
		return fmt.Errorf("basalt:kafka is external but basalt:kafkaBrokers is not set (host:port,…)")
	case c.Kafka != "none" && c.Kafka != "external" && c.Kafka != "strimzi":
		return fmt.Errorf("basalt:kafka %q: want none, external or strimzi", c.Kafka)
	}
	for _, f := range []string{"prometheus/slo.rules.yaml", "prometheus/alerts.rules.yaml", "argo/analysis-template.yaml"} {
		if _, err := os.Stat(filepath.Join(c.DeployDir, f)); err != nil {
			return fmt.Errorf("basalt:deployDir %q: %w (it is the deploy/ directory of the Basalt repository)", c.DeployDir, err)
		}
	}
	return nil
}
