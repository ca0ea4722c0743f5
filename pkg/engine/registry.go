package engine

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Drivers register themselves by name, as database/sql drivers do, so that
// a task can be told "distant_workername = exec" without pkg/engine
// importing the drivers (they import it). Import
// github.com/fleetsh/fleetsh/pkg/workers to register the built-in ones.
var registry struct {
	sync.RWMutex
	m map[string]func() Driver
}

// Register makes a driver available by name. It panics if name is taken,
// a programming error.
func Register(name string, factory func() Driver) {
	registry.Lock()
	defer registry.Unlock()
	if registry.m == nil {
		registry.m = make(map[string]func() Driver)
	}
	if _, dup := registry.m[name]; dup {
		panic("engine: Register called twice for driver " + name)
	}
	registry.m[name] = factory
}

// NewDriver returns a new driver registered under name.
func NewDriver(name string) (Driver, error) {
	registry.RLock()
	f, ok := registry.m[name]
	registry.RUnlock()
	if !ok {
		known := Drivers()
		if len(known) == 0 {
			return nil, fmt.Errorf("engine: no driver %q (no driver registered: import github.com/fleetsh/fleetsh/pkg/workers)", name)
		}
		return nil, fmt.Errorf("engine: no driver %q (known: %v)", name, known)
	}
	return f(), nil
}

// Drivers returns the names of the registered drivers, sorted.
func Drivers() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return slices.Clip(names)
}
