// Package nodeset handles sets of cluster node names in ClusterShell's
// folded syntax ("node[1-100],gpu[01-08]", "r[1-2]n[1-64]-ib0",
// "@compute!@down"), with ClusterShell 1.9's semantics and byte-identical
// output: the nodeset CLI (cmd/nodeset) and csub's node selection are
// built on it, and integration/ compares them with ClusterShell's own
// tools on thousands of command lines.
//
// # Main types
//
//   - [NodeSet]: a set of names, grouped by pattern ("node%s" with a
//     [RangeSet]; "r%sn%s" with a two-dimensional one). [Parse] and
//     [MustParse] read an expression without groups; set algebra (Union,
//     Difference, Intersection, SymmetricDifference and their in-place
//     Update forms), Len, Contains, iteration ([NodeSet.All]), String
//     (folded), Split, Slice, Contiguous, and folding controls (autostep,
//     fold axis).
//   - [RangeSet]: a set of indexes as written inside brackets ("1-10,15,
//     20-30/2"). An index keeps its zero padding: "1", "01" and "001" are
//     three members. Members are stored as runs, so node[1-10000000] costs
//     a few words, not ten million strings.
//   - [Parser]: parses with a [GroupResolver] (the @group references,
//     @source:group, wildcards "node*" and the operators ",", "!", "&",
//     "^", applied left to right), lists groups and regroups a set
//     ([Parser.Regroup]: "@rack1,node9").
//   - Resolvers: [LoadDefaultResolver] reads groups.conf from
//     ClusterShell's places ([DefaultConfigPaths]: /etc/clustershell,
//     ~/.config/clustershell, $CLUSTERSHELL_CFGDIR...), [LoadResolver]
//     named files (as --groupsconf); their sources are upcall commands
//     (map, all, list, reverse, with cache_time) or YAML files (autodir).
//     [NewStaticResolver] builds one from Go maps; [LazyResolver] loads
//     its configuration on first use.
//
// Errors are typed ([ParseError], [RangeParseError], [UnknownSourceError],
// [NoUpcallError], [QueryFailedError], [ConfigError]...) and their messages
// read as ClusterShell's.
//
// # Concurrency and limits
//
// A NodeSet or RangeSet is not safe for concurrent mutation; concurrent
// reads are fine, and Clone gives each goroutine its own. A [Resolver] is
// safe for concurrent use (its external commands run one at a time). Indexes are int64; a range's size is bounded
// only by memory for what is expanded (Nodes, All, the expanded output),
// while folded forms and set algebra stay proportional to the number of
// runs. Bad input returns an error and never panics (only MustParse,
// meant for constants, does).
//
// # ClusterShell equivalents
//
//	NodeSet("node[1-3]")                 Parse("node[1-3]") (no groups) or Parser{Resolver: r}.Parse
//	NodeSet.fromlist(names)              Parser.ParseList(names)
//	ns.update(o), ns | o, ns - o, ns & o, ns ^ o   Update, Union, Difference, Intersection, SymmetricDifference
//	len(ns), str(ns), iter(ns)           Len(), String(), All() / Nodes()
//	ns.split(n), ns[i:j], ns.contiguous()  Split(n), Slice(i, j), Contiguous()
//	ns.regroup(source), NodeSet.groups() Parser.Regroup, Parser.Groups
//	RangeSet("1-10"), RangeSetND         ParseRangeSet("1-10"), the nD patterns of NodeSet
//	set_std_group_resolver_config(f)     LoadResolver(f)
package nodeset
