package graphqlapi

import (
	"os"
	"testing"

	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
