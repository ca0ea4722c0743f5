package engine_test

import (
	"fmt"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	_ "github.com/fleetsh/fleetsh/pkg/workers"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// Run a command on nodes and print the gathered output, as ClusterShell's
// task.shell() + task.resume() + task.iter_buffers().
func ExampleTask_Run() {
	task := engine.New()
	_, err := task.Run("echo hello from %h | cut -c1-10", engine.Options{
		Nodes:  nodeset.MustParse("node[1-3]"),
		Driver: exec.New(), // local commands; the default is ssh
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for out, nodes := range task.IterBuffers() {
		fmt.Printf("%s: %s\n", nodes, out)
	}
	// Output:
	// node[1-3]: hello from
}

// A per-worker timeout: the nodes that do not finish in time get no exit
// status and are reported as timed out.
func ExampleOptions_timeout() {
	task := engine.New()
	w, err := task.Run(`[ %h = node2 ] && sleep 5; echo done`, engine.Options{
		Nodes:   nodeset.MustParse("node[1-3]"),
		Driver:  exec.New(),
		Timeout: 500 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("timed out:", w.KeysTimeout())
	for rc, nodes := range task.IterRetcodes() {
		fmt.Println("exit", rc, nodes)
	}
	// Output:
	// timed out: [node2]
	// exit 0 node[1,3]
}

type ticker struct {
	engine.Handler
	n int
}

func (t *ticker) OnTimer(tm *engine.Timer) {
	t.n++
	fmt.Println("tick", t.n)
	if t.n == 3 {
		tm.Invalidate()
	}
}

// A repeating timer, stopped by its own handler.
func ExampleTask_Timer() {
	task := engine.New()
	task.Timer(10*time.Millisecond, 10*time.Millisecond, &ticker{}, false)
	if err := task.Resume(0); err != nil {
		fmt.Println(err)
	}
	// Output:
	// tick 1
	// tick 2
	// tick 3
}

// Replace the print_debug hook to send debug lines where you want them,
// as ClusterShell's task.set_info("print_debug", ...).
func ExampleTask_SetInfo_printDebug() {
	task := engine.New()
	task.SetInfo(engine.InfoDebug, true)
	task.SetInfo(engine.InfoPrintDebug, func(_ *engine.Task, line string) {
		fmt.Println("DEBUG", line)
	})
	if _, err := task.Run("echo ok", engine.Options{Nodes: nodeset.MustParse("n1"), Driver: exec.New()}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// DEBUG EXECCLIENT: echo ok
	// DEBUG n1: b'ok'
}

// Change the default distant driver by name, as ClusterShell's
// task.set_default("distant_workername", "exec"); importing pkg/workers
// registers the built-in drivers.
func ExampleTask_SetDefault() {
	task := engine.New()
	if err := task.SetDefault(engine.DefaultDistantWorkerName, "exec"); err != nil {
		fmt.Println(err)
		return
	}
	w, err := task.Run("echo %h", engine.Options{Nodes: nodeset.MustParse("n[1-2]")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.Driver().Name(), string(task.NodeBuffer("n2")))
	// Output:
	// exec n2
}
