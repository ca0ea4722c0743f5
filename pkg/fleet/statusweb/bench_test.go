package statusweb

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// BenchmarkHugeJobPage is the handler's own cost of one poll of a running
// job of 100 000 names that do not fold (its sets cut to MaxSetBytes), and
// of its page: what an open page costs the coordinator every second on
// top of the job's status.
//
//	go test -run '^$' -bench HugeJob ./pkg/fleet/statusweb
func BenchmarkHugeJobPage(b *testing.B) {
	names := testutil.LetterNames(100000)
	st := protocol.JobStatus{ID: "huge", Nodes: strings.Join(names, ","), Total: len(names),
		Finals: map[protocol.State]int{protocol.StateExited: 50000}, States: map[protocol.State]string{protocol.StateExited: strings.Join(names[:50000], ",")},
		Unfinished: strings.Join(names[50000:], ",")}
	h := New(&fixedSource{jobs: []protocol.JobStatus{st}})
	for _, path := range []string{"/api/job/huge", "/job/huge"} {
		b.Run(strings.ReplaceAll(path, "/", "_"), func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil))
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
