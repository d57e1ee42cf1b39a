package deploy_test

import (
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"go.yaml.in/yaml/v4"

	"github.com/basaltdev/basalt/internal/app"
)

// TestDeploymentDocsCommands: every basalt command line that the
// deployment and upgrade pages show (run directly, through kubectl exec or
// systemd-run) is one basalt accepts, and every Pulumi setting they set
// is one the program declares.
func TestDeploymentDocsCommands(t *testing.T) {
	var project struct {
		Config map[string]any `yaml:"config"`
	}
	b, err := os.ReadFile("pulumi/Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &project); err != nil {
		t.Fatal(err)
	}
	setting := regexp.MustCompile(`pulumi config set (?:--secret )?basalt:([A-Za-z]+)`)
	commands, settings := 0, 0
	for _, page := range []string{"../docs/deployment.md", "../docs/upgrades.md"} {
		body, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range shellLines(string(body)) {
			words := shellWords(line)
			for i, w := range words {
				// basalt as a command: first, after "--" (kubectl exec) or
				// after environment assignments; or by its installed path.
				starts := w == "/usr/local/bin/basalt" || w == "basalt" &&
					(i == 0 || words[i-1] == "--" || strings.Contains(words[i-1], "=") && !strings.HasPrefix(words[i-1], "-"))
				if !starts || i == len(words)-1 {
					continue
				}
				commands++
				// The environment the line gives it (NAME=value, or
				// systemd-run's -E NAME=value).
				env := map[string]string{}
				for _, a := range words[:i] {
					if k, v, ok := strings.Cut(a, "="); ok && k == strings.ToUpper(k) && !strings.HasPrefix(k, "-") {
						env[k] = v
					}
				}
				_, err := app.ParseCommandLine(words[i+1:], func(k string) string { return env[k] }, io.Discard, io.Discard, func(int) {})
				var pe *kong.ParseError
				if errors.As(err, &pe) {
					t.Errorf("%s: %q is not a basalt command line: %v", page, strings.Join(words[i:], " "), err)
				}
				break
			}
			for _, m := range setting.FindAllStringSubmatch(line, -1) {
				settings++
				if _, ok := project.Config[m[1]]; !ok {
					t.Errorf("%s sets basalt:%s, which deploy/pulumi/Pulumi.yaml does not declare", page, m[1])
				}
			}
		}
	}
	if commands < 9 || settings < 8 {
		t.Errorf("found %d basalt commands and %d Pulumi settings in the pages; the parsing is off", commands, settings)
	}
}
