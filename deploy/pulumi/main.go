// Command basalt-pulumi is a Pulumi program that deploys Basalt on
// Kubernetes: the pods (a Deployment, or an Argo Rollouts Rollout with a
// canary or blue-green strategy analyzed against the service-level
// objectives), their Service, disruption budget, autoscaler, network
// policy, secrets, monitoring (ServiceMonitor, PrometheusRule) and key
// rotation, with PostgreSQL, Redis and Kafka either referenced or made
// through their operators (CloudNativePG, Strimzi). See
// docs/deployment.md; Pulumi.yaml lists the configuration.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		c, err := loadConfig(ctx)
		if err != nil {
			return err
		}
		d, err := newBasalt(ctx, c)
		if err != nil {
			return err
		}
		ctx.Export("namespace", d.Namespace)
		ctx.Export("service", d.Service)
		return nil
	})
}
