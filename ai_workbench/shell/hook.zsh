# aiw shell integration for zsh (printed by `aiw shell init zsh`; docs/shell.md).
#
# On success the hook runs a few arithmetic tests: no process, no file access (in the opt-in
# tee and pty capture modes a few builtins more; docs/shell.md "Capture modes"). On a failure it
# appends one JSON line to the spool with a single write and starts one detached aiw worker
# that reads the output from tmux/screen/kitty/WezTerm and analyses it. The prompt never waits.
# Hooks are added with add-zsh-hook, so other precmd/preexec users (starship, direnv, atuin,
# zsh-autosuggestions, powerlevel10k) keep working; nothing is printed at init.
# The settings block above this text (_aiw_py, _aiw_spool, ...) is filled in by `aiw shell init`.

[[ -o interactive ]] || return 0
(( ${+_aiw_loaded} )) && return 0
typeset -g _aiw_loaded=1 _aiw_ran=0 _aiw_t0=0 _aiw_cmd=
# history number of this session's first command (older ones came from $HISTFILE)
typeset -gi _aiw_hs=0
# Opt-in capture (docs/shell.md "Capture modes"): _aiw_x is 1 when tee or pty capture is on;
# the default mode pays one arithmetic test for it per prompt.
typeset -g _aiw_x=0 _aiw_n=0 _aiw_out= _aiw_outk= _aiw_dmark=0 _aiw_pty_on=0
typeset -g _aiw_tee_w=0 _aiw_tee_r=0 _aiw_tee_on=0 _aiw_tee_pending=0 _aiw_tee_err= _aiw_tee_pid=0
typeset -gA _aiw_tee_prog _aiw_tee_line
typeset -ga _aiw_tee_glob
zmodload -F zsh/datetime p:EPOCHREALTIME 2>/dev/null
zmodload -F zsh/parameter p:history 2>/dev/null

# JSON-escape $1 into REPLY (no fork; only runs after a failure).
_aiw_json() {
  emulate -L zsh
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  s=${s//[$'\001'-$'\037']/}
  REPLY=$s
}

# Status $1 of command line $2 (pipestatus $3): is it an answer (grep found nothing) rather
# than a failure? Only when that program alone gave the status: a single command or the one
# failed stage of a pipeline; in a list (`npm test && diff a b`) any part may have failed.
_aiw_answer() {
  emulate -L zsh
  local st=$1 line=$2 s=$2 pre q rest w
  integer i=0 k=-1 n
  local -a pss
  pss=(${=3})
  case $st in 126 | 127 | 2) return 1 ;; esac
  while [[ $s == *[\'\"]* ]]; do # quoted text is not syntax: `grep 'a|b;c' f`
    pre=${s%%[\'\"]*}
    q=${s[${#pre}+1]}
    rest=${s[${#pre}+2,-1]}
    [[ $rest == *"$q"* ]] || break
    s="$pre _ ${rest#*"$q"}"
  done
  s=${s//'&>'/ }
  s=${s//'>&'/ }
  case $s in *'&'* | *';'* | *'||'* | *$'\n'*) return 1 ;; esac
  (( ${#pss} )) || pss=($st)
  n=${#pss}
  rest=$s
  while :; do
    w=${rest%%'|'*}
    if (( i < n && pss[i+1] != 0 && pss[i+1] != 141 )); then
      (( k < 0 )) || return 1
      k=$i line=$w
    fi
    (( ++i ))
    [[ $w == "$rest" ]] && break
    rest=${rest#*'|'}
  done
  (( i == n && k >= 0 )) || return 1
  w=$line
  case $w in
    *'git diff'*--quiet* | *'git diff'*--exit-code* | *'git '*'diff-index'*--quiet*) [[ $st == 1 ]] && return 0 ;;
    *'systemctl is-'*) return 0 ;;
  esac
  w=${w#"${w%%[![:space:]]*}"}
  while :; do
    case $w in
      sudo\ * | command\ -v* | command\ -V* | time\ * | '! '* | nice\ * | env\ *) ;;
      *) break ;;
    esac
    case $w in command\ -[vV]*) return 0 ;; esac
    w=${w#* }
    w=${w#"${w%%[![:space:]]*}"}
  done
  w=${w%%[[:space:]]*}
  case ${w##*/} in
    test | '[' | '[[' | false | '!') return 0 ;;
    grep | egrep | fgrep | zgrep | rg | ag | ack | diff | cmp | colordiff | which | type | whence | where | pgrep | pidof | hash) [[ $st == 1 ]] && return 0 ;;
  esac
  return 1
}

# A command line $2 failed with status $1 (pipestatus $3), started at $4 (µs).
_aiw_failed() {
  emulate -L zsh
  local st=$1 line=$2 ps=$3 t0=$4 d p t1 id j REPLY
  case $st in 129 | 130 | 131 | 137 | 141 | 143 | 146 | 148) return ;; esac
  [[ -z $line || -n ${AIW_SHELL_OFF-} || -e $_aiw_off ]] && return
  for d in "${_aiw_sensitive[@]}"; do
    [[ $PWD == "$d" || $PWD == "$d"/* ]] && return
  done
  _aiw_answer "$st" "$line" "$ps" && return
  for p in "${_aiw_ignore[@]}"; do
    [[ $line == ${~p} ]] && return
  done
  (( _aiw_x )) && _aiw_out_for "$st"
  t1=${EPOCHREALTIME//[!0-9]/}
  id=$$-${t1:-$SECONDS}-$RANDOM
  j='{"v":1,"id":"'$id'","shell":"zsh","status":'$st',"pipestatus":"'$ps'"'
  _aiw_json "$line"; j+=',"cmd":"'${REPLY[1,4000]}'"'
  _aiw_json "$PWD"; j+=',"cwd":"'$REPLY'"'
  j+=',"t0":'${t0:-0}',"t1":'${t1:-0}',"pid":'$$
  _aiw_json "${TMUX_PANE-}"; j+=',"tmux_pane":"'$REPLY'"'
  if (( _aiw_x )); then
    _aiw_json "$_aiw_out"; j+=',"out":"'$REPLY'","outk":"'$_aiw_outk'"'
  fi
  j+='}'
  { print -r -- "$j" >>"$_aiw_spool" } 2>/dev/null
  [[ -x $_aiw_py ]] || return
  # The worker gets the event (plus this session's history) in its environment, which only
  # this user can read; never in argv (ps shows that to everyone) nor on disk.
  _aiw_hist
  ( AIW_SHELL_EVENT=${j%\}}',"history":['$REPLY']}' "$_aiw_py" -m ai_workbench.cli.shell_worker </dev/null >/dev/null 2>&1 &! )
}

# This session's last commands (up to 11, the failed one last; not $HISTFILE nor what zsh
# read from it at start: other sessions') as JSON strings in REPLY, from zsh/parameter's $history: no fork.
_aiw_hist() {
  emulate -L zsh
  local out=
  integer i n=0
  for (( i = HISTCMD - 1; i >= _aiw_hs && i > HISTCMD - 50 && n < 11; i-- )); do
    (( ${+history[$i]} )) || continue
    _aiw_json "${history[$i][1,500]}"
    out=\"$REPLY\"${out:+,}$out
    (( ++n ))
  done
  REPLY=$out
}

_aiw_preexec() {
  # A line the shell keeps out of its history (leading space) stays out of aiw too.
  if [[ -o histignorespace && $1 == ' '* ]]; then
    _aiw_ran=0
    return
  fi
  _aiw_cmd=$1
  _aiw_ran=1
  (( _aiw_x )) && _aiw_x_preexec "$1"
  _aiw_t0=${EPOCHREALTIME//[!0-9]/}
}

_aiw_precmd() {
  local st=$? ps="${pipestatus[*]}"
  (( _aiw_x )) && _aiw_x_pre
  if (( _aiw_ran )); then
    _aiw_ran=0
    (( st )) && _aiw_failed "$st" "$_aiw_cmd" "$ps" "$_aiw_t0"
    (( _aiw_x )) && _aiw_x_post "$st"
  fi
  (( _aiw_pty_on )) && print -n $'\e]133;A\a'
  (( _aiw_hs )) || _aiw_hs=HISTCMD
  return $st
}

# --- opt-in capture: tee (stderr per command) and pty (marks for `aiw shell pty`) -----------

# Is command line $1 on the tee skip list (any part of a pipeline or list)? No fork.
_aiw_skip() {
  emulate -L zsh
  local rest=$1 seg w base p ex
  while [[ -n $rest ]]; do
    seg=${rest%%[|;&]*}
    if [[ $seg == "$rest" ]]; then rest=; else rest=${rest#*[|;&]}; fi
    seg=${seg#"${seg%%[![:space:]\(\{]*}"}
    seg=${seg%"${seg##*[![:space:]\)\}]}"}
    while [[ -n $seg ]]; do
      w=${seg%%[[:space:]]*}
      case $w in
        *=* | command | builtin | exec | time | nohup | nice | env | noglob | nocorrect | '!') ;;
        *) break ;;
      esac
      [[ $w == "$seg" ]] && seg= && break
      seg=${seg#"$w"}
      seg=${seg#"${seg%%[![:space:]]*}"}
    done
    [[ -z $seg ]] && continue
    w=${seg%%[[:space:]]*}
    base=${w##*/}
    (( ${+_aiw_tee_prog[$base]} )) && return 0
    seg=$base${seg#"$w"}
    (( ${+_aiw_tee_line[$seg]} )) && return 0
    for p in "${_aiw_tee_glob[@]}"; do
      ex=
      if [[ $p == *' !'* ]]; then
        ex=${p##* !}
        p=${p% !*}
      fi
      [[ $seg == ${~p} ]] && [[ -z $ex || $seg != ${~ex} ]] && return 0
    done
  done
  return 1
}

# preexec: count the command; tee: point its fd 2 at the reader unless it is skipped; pty: C.
_aiw_x_preexec() {
  (( ++_aiw_n ))
  (( _aiw_pty_on )) && print -n $'\e]133;C\a'
  (( _aiw_tee_w )) || return 0
  _aiw_skip "$1" && return 0
  if ! kill -0 "$_aiw_tee_pid" 2>/dev/null; then
    _aiw_tee_stop
    return 0
  fi
  exec {_aiw_tee_err}>&2 2>&$_aiw_tee_w
  _aiw_tee_on=1
}

# First thing at the prompt: fd 2 back to the terminal.
_aiw_x_pre() {
  _aiw_dmark=0 _aiw_out= _aiw_outk=
  if (( _aiw_tee_on )); then
    exec 2>&$_aiw_tee_err {_aiw_tee_err}>&-
    _aiw_tee_on=0 _aiw_tee_pending=1
  fi
}

# tee: end marker with status $1 (0: keep nothing); waits for the reader's answer, so the
# command's stderr is on the screen before the prompt and its file is written.
_aiw_tee_end() {
  _aiw_tee_pending=0
  print -rn -- $'\036'"${_aiw_tee_tok}E$1 $$-$_aiw_n"$'\n' >&$_aiw_tee_w
  local ack
  read -r -t 2 -u $_aiw_tee_r ack || _aiw_tee_stop
}

# A failure with status $1 will be reported: finish its capture, name the file.
_aiw_out_for() {
  if (( _aiw_tee_pending )); then
    _aiw_tee_end "$1"
    _aiw_out=$_aiw_dir/tee-$$-$_aiw_n.err _aiw_outk=tee
  elif (( _aiw_pty_on )); then
    _aiw_dmark=1
    print -n $'\e]133;D;'"$1;aiw=$$-$_aiw_n"$'\a'
    _aiw_out=$AIW_PTY/pty-$$-$_aiw_n.out _aiw_outk=pty
  fi
}

# After a command's report (or none): close what is open.
_aiw_x_post() {
  (( _aiw_tee_pending )) && _aiw_tee_end 0
  (( _aiw_pty_on && !_aiw_dmark )) && print -n $'\e]133;D;'"$1"$'\a'
  _aiw_dmark=1
}

_aiw_tee_stop() {
  (( _aiw_tee_on )) && exec 2>&$_aiw_tee_err {_aiw_tee_err}>&-
  (( _aiw_tee_w )) && exec {_aiw_tee_w}>&-
  (( _aiw_tee_r )) && exec {_aiw_tee_r}<&-
  _aiw_tee_w=0 _aiw_tee_r=0 _aiw_tee_on=0 _aiw_tee_pending=0
}

# Start the reader (one process for the shell's life) and open its FIFO.
_aiw_tee_start() {
  local fifo=$_aiw_dir/tee-$$-$RANDOM.fifo ready p
  for p in "${_aiw_tee_skip[@]}"; do
    case $p in
      '='*) _aiw_tee_line[${p#=}]=1 ;;
      *[!A-Za-z0-9._+-]*) _aiw_tee_glob+=("$p") ;;
      ?*) _aiw_tee_prog[$p]=1 ;;
    esac
  done
  _aiw_tee_tok=$RANDOM$RANDOM$RANDOM
  [[ -d $_aiw_dir ]] || return 1
  exec {_aiw_tee_r}< <(exec "$_aiw_py" -I -S "$_aiw_tee_py" "$fifo" "$_aiw_dir" "$_aiw_tee_tok" 65536 </dev/null)
  if read -r -t 5 -u $_aiw_tee_r ready _aiw_tee_pid && [[ $ready == ready ]] &&
    exec {_aiw_tee_w}<>"$fifo"; then
    print -rn -- $'\036'"${_aiw_tee_tok}H"$'\n' >&$_aiw_tee_w
    _aiw_x=1
    return 0
  fi
  _aiw_tee_stop
  return 1
}

autoload -Uz add-zsh-hook
add-zsh-hook preexec _aiw_preexec
add-zsh-hook precmd _aiw_precmd
if [[ $_aiw_capture == tee ]] && _aiw_tee_start; then
  # First among the precmd hooks: stderr goes back to the terminal before others print.
  precmd_functions=(_aiw_precmd ${precmd_functions:#_aiw_precmd})
fi
# pty: only in the shell `aiw shell pty` started itself (not in a tmux pane that inherited it).
if [[ $_aiw_capture == pty && -n ${AIW_PTY-} && ${AIW_PTY_PID-} == "$PPID" ]]; then
  _aiw_pty_on=1 _aiw_x=1
  PS1=${PS1-}$'%{\e]133;B\a%}'
fi
