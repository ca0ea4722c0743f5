// Package topology reads ClusterShell 1.9's topology.conf and tells the
// fleet coordinator which gateway group serves each node.
//
// # The file
//
// topology.conf is an INI file read by Python's ConfigParser. Its [routes]
// section ([Main] before ClusterShell 1.7, still accepted) lists routes,
// one per line, "<source nodeset>: <destination nodeset>": the source nodes
// reach the destination nodes directly.
//
//	[routes]
//	rio0: rio[10-13]
//	rio[10-11]: rio[100-240]
//	rio[12-13]: rio[300-440]
//
// Parse reads it as ClusterShell does (see Parse for the ConfigParser
// rules) and validates the routes as ClusterShell's
// TopologyRoutingTable.add_route does, in file order, with its messages:
// the source and the destination of a route may not overlap ("Source and
// destination nodesets overlap"), routes may not loop ("Loop detected!"),
// and paths may not converge ("Convergent path detected!": two different
// sources may not reach the same node, a source may not be a superset of a
// known destination nor a destination a subset of a known source). Routes
// whose source or destination is empty (an empty node group) are ignored,
// as in ClusterShell 1.9.2. Every error is an *Error naming the file, the
// line and the culprit, and matches one of the Err* kinds with errors.Is.
//
// Differences from ClusterShell 1.9, each for an input ClusterShell reads
// into something that cannot work: a line break inside a value continued
// on indented lines separates nodesets like ","; node names holding white
// space ("rio10 # comment": ConfigParser has no inline comments) are
// refused; every routing loop is refused (ClusterShell misses some and then
// hangs).
//
// # Routing in fleetsh
//
// ClusterShell's tree mode relays commands down the tree, gateway to
// gateway. fleetsh does not: NATS carries the traffic, and the coordinator
// sends each node's work straight to the gateways directly above that node,
// the last hop. So:
//
//   - A gateway group is the source of a route; it is named by the folded
//     source nodeset ("rio[10-11]"). Routes with equal sources form one
//     group, which serves the union of their destinations.
//   - A node in the destination of a route is served by that route's group
//     (validation makes that group unique): rio[100-240] by "rio[10-11]",
//     rio[10-13] by "rio0".
//   - A node is local, run by the coordinator's own agent, when it is in no
//     route's destination, when its group's gateways include the root, or
//     when it is the root itself. With the root rio0 above, rio[10-13] are
//     local and rio[100-240] go to "rio[10-11]".
//   - The root is the coordinator's node name, as ClusterShell uses the
//     short host name. It must be in the source of a route (ClusterShell's
//     `"x" is not a valid root node!`) unless there are no routes. The
//     empty root stands for every source that is nobody's destination (the
//     tops of the trees), so that a configuration works on any host.
//
// Agents on gateways announce their node name; Router.GroupsOfGateway
// gives the groups whose shards they take. Router.Split cuts a job's
// nodeset into one shard per group plus the local rest with set operations,
// never node by node: about 0.1 ms for 50 000 nodes whose names fold into
// ranges, 10 ms when no two are consecutive (BenchmarkSplit50k*).
package topology
