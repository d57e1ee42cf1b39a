package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsImages: every image the README and docs/*.md show exists, and
// every image in a docs folder is shown somewhere (a screenshot the
// browser test stopped taking is not left behind).
func TestDocsImages(t *testing.T) {
	pages, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, "../README.md")
	image := regexp.MustCompile(`!\[[^\]]*\]\(([^)\s]+)\)`)
	shown := map[string]bool{}
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range image.FindAllStringSubmatch(string(b), -1) {
			if strings.Contains(m[1], "://") {
				t.Errorf("%s shows an image from elsewhere: %s", page, m[1])
				continue
			}
			p := filepath.Clean(filepath.Join(filepath.Dir(page), m[1]))
			shown[p] = true
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s shows %s: %v", page, m[1], err)
			}
		}
	}
	files, err := filepath.Glob("../docs/*/*.png")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !shown[filepath.Clean(f)] {
			t.Errorf("%s is shown by no page", f)
		}
	}
}
