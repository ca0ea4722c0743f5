package csub

import "testing"

// TestClubakDiffHeaderRStrip: clush prints a diff line that starts with
// "---" or "+++" as a header, with str.rstrip(), whose white space takes in
// U+001C..U+001F (expected output printed by /usr/bin/clubak 1.9.1).
func TestClubakDiffHeaderRStrip(t *testing.T) {
	in := "h1:--x\x1c\nh2:y\n"
	want := "\x1b[1m--- h1\x1b[0m\n\x1b[1m+++ h2\x1b[0m\n\x1b[96m@@ -1 +1 @@\x1b[0m\n\x1b[1m---x\x1b[0m\n\x1b[92m+y\x1b[0m\n"
	out, errOut, status := runClubakTest(t, in, nil, "--diff", "--color=always")
	if out != want || errOut != "" || status != 0 {
		t.Errorf("clubak --diff <<< %q:\n got  %d %q %q\n want 0 %q", in, status, out, errOut, want)
	}
}
