package coordinator

// LocalAgentID is the id of the local agent a coordinator process runs
// beside itself when it grants agents from a site's identities
// (Config.Agents): no identity of the site may take it.
const LocalAgentID = "coordinator-local"
