package topology_test

import (
	"fmt"
	"strings"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/topology"
)

func ExampleRouter_Split() {
	conf := `[routes]
rio0: rio[10-13]
rio[10-11]: rio[100-240]
rio[12-13]: rio[300-440]
`
	topo, err := topology.Parse(strings.NewReader(conf), "topology.conf", topology.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	router, err := topo.Router("rio0")
	if err != nil {
		fmt.Println(err)
		return
	}
	shards, local := router.Split(nodeset.MustParse("rio[12,100-199,300-309],login1"))
	for _, g := range router.Groups() {
		fmt.Printf("%s: %s\n", g.Name, shards[g.Name])
	}
	fmt.Println("local:", local)
	fmt.Println(router.GroupsOfGateway("rio11"))
	// Output:
	// rio[10-11]: rio[100-199]
	// rio[12-13]: rio[300-309]
	// local: login1,rio12
	// [rio[10-11]]
}
