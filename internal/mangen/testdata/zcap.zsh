# zsh -f zcap.zsh FPATHDIR LINE...: types each LINE and a Tab in one
# interactive zsh on a pseudo-terminal, with the completion functions of
# FPATHDIR, and prints "<CASE>" then every candidate the completion
# system offered (a compadd wrapper records them), one a line. Tab runs
# a widget that completes, then prints "<END>".
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1= ; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a __hits; builtin compadd -A __hits "$@"; local r=$?; local h; for h in $__hits; do print -r -- "<HIT>$h"; done; return $r }'
zpty -w z "LISTMAX=1000000; zstyle ':completion:*' list-prompt ''; zstyle ':completion:*' select-prompt ''; zstyle ':completion:*' menu no; _zcap_complete() { zle complete-word; print -r -- '<END>' }; zle -N _zcap_complete; bindkey '^I' _zcap_complete"
zpty -w z "print -r -- '<READY>'"
local line
while zpty -r z line; do [[ $line == *'<READY>'* && $line != *print* ]] && break; done
for input in "${@[2,-1]}"; do
  print -r -- '<CASE>'
  zpty -w -n z "$input"$'\t'
  # Type nothing more before the completion ends: zsh cuts completion
  # short when keys are pending.
  while zpty -r z line; do
    [[ $line == *'<END>'* ]] && break
    if [[ $line == *'<HIT>'* ]]; then print -r -- "${${line##*<HIT>}%%$'\r'}"; fi
  done
  zpty -w z $'\C-u'"print -r -- '<DONE>'"
  while zpty -r z line; do
    [[ $line == *'<DONE>'* && $line != *print* ]] && break
    if [[ $line == *'<HIT>'* ]]; then print -r -- "${${line##*<HIT>}%%$'\r'}"; fi
  done
done
zpty -d z
