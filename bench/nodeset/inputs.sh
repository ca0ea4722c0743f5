# Sourced by run.sh and ab.sh, with $tmp set to a scratch directory: builds
# the timer (bench/nodeset/wall) and the input generator into $tmp, writes
# the inputs there, and sets xargs_ to the -x row's arguments,
# "-f A1 A2 ... -x B1 -x B2 ...": the union of the A chunks minus each B
# chunk.
go build -o "$tmp/gen" ./bench/nodeset/gen
go build -o "$tmp/wall" ./bench/nodeset/wall
"$tmp/gen" -out "$tmp"
mapfile -t xa < "$tmp/xa.args"
mapfile -t xb < "$tmp/xb.args"
xargs_=(-f "${xa[@]}")
for b in "${xb[@]}"; do xargs_+=(-x "$b"); done
