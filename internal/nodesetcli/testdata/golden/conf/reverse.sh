# reverse upcall of the "local" source: print the groups of node $1
case "$1" in
adm0) echo adm ;;
login[12]) echo login ;;
cn06[1-4]) echo compute gpu ;;
cn0[0-6][0-9]) echo compute ;;
esac
