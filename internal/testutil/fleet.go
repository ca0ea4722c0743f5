package testutil

// LetterNames returns n node names of letters only ("node-" and the
// letters of i, lowest first): with no numeric field no two share a
// pattern, so none folds with another (where BadNames's are longer and
// have numbers). The fleet's status page and status API tests and
// benchmarks render jobs of such names.
func LetterNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		b := []byte("node-")
		for j := i; ; j /= 26 {
			b = append(b, byte('a'+j%26))
			if j < 26 {
				break
			}
		}
		names[i] = string(b)
	}
	return names
}
