# aiw shell integration for bash >= 4.4 (printed by `aiw shell init bash`; docs/shell.md).
#
# On success the hook runs a few arithmetic tests: no process, no file access (in the opt-in
# tee and pty capture modes a few builtins more; docs/shell.md "Capture modes"). On a failure it
# appends one JSON line to the spool with a single write and starts one detached aiw worker
# that reads the output from tmux/screen/kitty/WezTerm and analyses it. The prompt never waits.
# Mechanism (docs/shell.md): PS0 records "a command ran" + start time + the history
# count without a fork; a PROMPT_COMMAND entry (string or array, whichever it already is) or
# bash-preexec's precmd/preexec arrays when bash-preexec is loaded. Never a DEBUG trap.
# The settings block above this text (_aiw_py, _aiw_spool, ...) is filled in by `aiw shell init`.

[[ $- == *i* ]] || return 0 2>/dev/null
[[ -n ${_aiw_loaded-} ]] && return 0 2>/dev/null
_aiw_loaded=1
_aiw_ran=0
_aiw_t0=0
_aiw_h=0
_aiw_hc=${HISTCMD:-0}
_aiw_hs=0 # history number of this session's first command (older ones came from $HISTFILE)
_aiw_ps0=()
_aiw_bp_cmd=
# Opt-in capture (docs/shell.md "Capture modes"): _aiw_x is 1 when tee or pty capture is on;
# the default mode pays one arithmetic test for it per prompt.
_aiw_x=0 _aiw_n=0 _aiw_out= _aiw_outk= _aiw_dmark=0
_aiw_tee_w=0 _aiw_tee_r=0 _aiw_tee_on=0 _aiw_tee_pending=0 _aiw_tee_err= _aiw_tee_pid=0
_aiw_pty_on=0

# JSON-escape $1 into REPLY (no fork; only runs after a failure).
_aiw_json() {
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
  local st=$1 line=$2 s=$2 pre q rest w i=0 k=-1 n
  local -a pss=($3)
  case $st in 126 | 127 | 2) return 1 ;; esac
  while [[ $s == *[\'\"]* ]]; do # quoted text is not syntax: `grep 'a|b;c' f`
    pre=${s%%[\'\"]*}
    q=${s:${#pre}:1}
    rest=${s:${#pre}+1}
    [[ $rest == *"$q"* ]] || break
    s="$pre _ ${rest#*"$q"}"
  done
  s=${s//&>/ }
  s=${s//>&/ }
  case $s in *'&'* | *';'* | *'||'* | *$'\n'*) return 1 ;; esac
  ((${#pss[@]})) || pss=("$st")
  n=${#pss[@]}
  rest=$s
  while :; do
    w=${rest%%\|*}
    if ((i < n && pss[i] != 0 && pss[i] != 141)); then
      ((k < 0)) || return 1
      k=$i line=$w
    fi
    ((++i))
    [[ $w == "$rest" ]] && break
    rest=${rest#*\|}
  done
  ((i == n && k >= 0)) || return 1
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
    grep | egrep | fgrep | zgrep | rg | ag | ack | diff | cmp | colordiff | which | type | pgrep | pidof | hash) [[ $st == 1 ]] && return 0 ;;
  esac
  return 1
}

# A command line $2 failed with status $1 (pipestatus $3), started at $4 (µs).
_aiw_failed() {
  local st=$1 line=$2 ps=$3 t0=$4 d p t1 id
  case $st in 129 | 130 | 131 | 137 | 141 | 143 | 146 | 148) return ;; esac
  [[ -z $line || -n ${AIW_SHELL_OFF-} || -e $_aiw_off ]] && return
  for d in "${_aiw_sensitive[@]}"; do
    [[ $PWD == "$d" || $PWD == "$d"/* ]] && return
  done
  _aiw_answer "$st" "$line" "$ps" && return
  for p in "${_aiw_ignore[@]}"; do
    # shellcheck disable=SC2053  # $p is a glob on purpose
    [[ $line == $p ]] && return
  done
  ((_aiw_x)) && _aiw_out_for "$st"
  t1=${EPOCHREALTIME//[!0-9]/}
  id=$$-${t1:-$SECONDS}-$RANDOM
  local j=$'{"v":1,"id":"'$id'","shell":"bash","status":'$st',"pipestatus":"'$ps'"'
  _aiw_json "$line"; j+=',"cmd":"'${REPLY:0:4000}'"'
  _aiw_json "$PWD"; j+=',"cwd":"'$REPLY'"'
  j+=',"t0":'${t0:-0}',"t1":'${t1:-0}',"pid":'$$
  _aiw_json "${TMUX_PANE-}"; j+=',"tmux_pane":"'$REPLY'"'
  if ((_aiw_x)); then
    _aiw_json "$_aiw_out"; j+=',"out":"'$REPLY'","outk":"'$_aiw_outk'"'
  fi
  j+='}'
  { printf '%s\n' "$j" >>"$_aiw_spool"; } 2>/dev/null
  [[ -x $_aiw_py ]] || return
  # The worker gets the event (plus this session's history) in its environment, which only
  # this user can read; never in argv (ps shows that to everyone) nor on disk.
  _aiw_hist
  ( AIW_SHELL_EVENT=${j%\}}',"history":['$REPLY']}' "$_aiw_py" -m ai_workbench.cli.shell_worker </dev/null >/dev/null 2>&1 & )
}

# This session's last commands (up to 11, the failed one last; not $HISTFILE, which bash
# writes at exit, nor the old sessions' lines bash read from it at start) as JSON strings in
# REPLY. One `history` call: a fork on failures only.
_aiw_hist() {
  local h t d num e= out=
  h=$(HISTTIMEFORMAT= builtin history 11 2>/dev/null)$'\n'
  while [[ -n $h ]]; do
    t=${h%%$'\n'*}
    h=${h#*$'\n'}
    # "  NUM  LINE" (NUM* when edited) starts an entry; other lines continue a multi-line one
    d=${t#"${t%%[! ]*}"}
    num=${d%%[!0-9]*}
    d=${d#"$num"}
    d=${d#\*}
    if [[ -n $num && $d == '  '* ]]; then
      [[ -n $e ]] && _aiw_json "${e:0:500}" && out+=${out:+,}\"$REPLY\"
      e=
      ((num >= _aiw_hs)) && e=${d:2}
    elif [[ -n $e ]]; then
      e+=$'\n'$t
    fi
  done
  [[ -n $e ]] && _aiw_json "${e:0:500}" && out+=${out:+,}\"$REPLY\"
  REPLY=$out
}

# PROMPT_COMMAND entry: reads $? and PIPESTATUS first, returns $? unchanged.
_aiw_precmd() {
  local st=$? ps="${PIPESTATUS[*]}"
  ((_aiw_x)) && _aiw_x_pre
  if ((_aiw_ran)); then
    _aiw_ran=0
    if ((st)) && ((_aiw_h > _aiw_hc)); then
      local line
      # `history 1` prints "  NUM  LINE" (NUM* when edited); fc -l would skip this entry.
      line=$(HISTTIMEFORMAT= builtin history 1 2>/dev/null)
      line=${line#"${line%%[![:space:]]*}"}
      line=${line#"${line%%[![:digit:]]*}"}
      line=${line#\*}
      line=${line#  }
      _aiw_failed "$st" "$line" "$ps" "$_aiw_t0"
    fi
    ((_aiw_x)) && _aiw_x_post "$st"
  fi
  ((_aiw_pty_on)) && printf '\e]133;A\a'
  _aiw_hc=${HISTCMD:-0}
  ((_aiw_hs)) || _aiw_hs=$_aiw_hc
  return $st
}

# bash-preexec variant: the command line comes as $1 of preexec, no history read needed.
_aiw_bp_preexec() {
  _aiw_bp_cmd=$1
  _aiw_ran=1
  ((_aiw_x)) && _aiw_x_preexec "$1"
  _aiw_t0=${EPOCHREALTIME//[!0-9]/}
}
_aiw_bp_precmd() {
  local st=$? ps="${BP_PIPESTATUS[*]-}"
  ((_aiw_x)) && _aiw_x_pre
  if ((_aiw_ran)); then
    _aiw_ran=0
    ((st)) && _aiw_failed "$st" "$_aiw_bp_cmd" "$ps" "$_aiw_t0"
    ((_aiw_x)) && _aiw_x_post "$st"
  fi
  ((_aiw_pty_on)) && printf '\e]133;A\a'
  ((_aiw_hs)) || _aiw_hs=${HISTCMD:-0}
  return $st
}

# --- opt-in capture: tee (stderr per command) and pty (marks for `aiw shell pty`) -----------

# Is command line $1 on the tee skip list (any part of a pipeline or list)? No fork.
_aiw_skip() {
  local rest=$1 seg w base p ex
  while [[ -n $rest ]]; do
    seg=${rest%%[|;&]*}
    if [[ $seg == "$rest" ]]; then rest=; else rest=${rest#*[|;&]}; fi
    seg=${seg#"${seg%%[![:space:](\{]*}"}
    seg=${seg%"${seg##*[![:space:])\}]}"}
    while [[ -n $seg ]]; do
      w=${seg%%[[:space:]]*}
      case $w in
        *=* | command | builtin | exec | time | nohup | nice | env | noglob | '!') ;;
        *) break ;;
      esac
      [[ $w == "$seg" ]] && seg= && break
      seg=${seg#"$w"}
      seg=${seg#"${seg%%[![:space:]]*}"}
    done
    [[ -z $seg ]] && continue
    w=${seg%%[[:space:]]*}
    base=${w##*/}
    [[ -n ${_aiw_tee_prog[$base]-} ]] && return 0
    seg=$base${seg#"$w"}
    [[ -n ${_aiw_tee_line[$seg]-} ]] && return 0
    for p in "${_aiw_tee_glob[@]}"; do
      ex=
      if [[ $p == *' !'* ]]; then
        ex=${p##* !}
        p=${p% !*}
      fi
      # shellcheck disable=SC2053  # globs on purpose
      [[ $seg == $p ]] && [[ -z $ex || $seg != $ex ]] && return 0
    done
  done
  return 1
}

# preexec: count the command; tee: point its fd 2 at the reader unless it is skipped; pty: C.
_aiw_x_preexec() {
  ((++_aiw_n))
  ((_aiw_pty_on)) && printf '\e]133;C\a'
  ((_aiw_tee_w)) || return 0
  _aiw_skip "$1" && return 0
  if ! kill -0 "$_aiw_tee_pid" 2>/dev/null; then
    _aiw_tee_stop
    return 0
  fi
  exec {_aiw_tee_err}>&2 2>&"$_aiw_tee_w"
  _aiw_tee_on=1
}

# First thing at the prompt: fd 2 back to the terminal.
_aiw_x_pre() {
  _aiw_dmark=0 _aiw_out= _aiw_outk=
  if ((_aiw_tee_on)); then
    exec 2>&"$_aiw_tee_err" {_aiw_tee_err}>&-
    _aiw_tee_on=0 _aiw_tee_pending=1
  fi
}

# tee: end marker with status $1 (0: keep nothing); waits for the reader's answer, so the
# command's stderr is on the screen before the prompt and its file is written.
_aiw_tee_end() {
  _aiw_tee_pending=0
  printf '\036%sE%s %s\n' "$_aiw_tee_tok" "$1" "$$-$_aiw_n" >&"$_aiw_tee_w"
  read -r -t 2 -u "$_aiw_tee_r" _ || _aiw_tee_stop
}

# A failure with status $1 will be reported: finish its capture, name the file.
_aiw_out_for() {
  if ((_aiw_tee_pending)); then
    _aiw_tee_end "$1"
    _aiw_out=$_aiw_dir/tee-$$-$_aiw_n.err _aiw_outk=tee
  elif ((_aiw_pty_on)); then
    _aiw_dmark=1
    printf '\e]133;D;%s;aiw=%s\a' "$1" "$$-$_aiw_n"
    _aiw_out=$AIW_PTY/pty-$$-$_aiw_n.out _aiw_outk=pty
  fi
}

# After a command's report (or none): close what is open.
_aiw_x_post() {
  ((_aiw_tee_pending)) && _aiw_tee_end 0
  ((_aiw_pty_on && !_aiw_dmark)) && printf '\e]133;D;%s\a' "$1"
  _aiw_dmark=1
}

_aiw_tee_stop() {
  ((_aiw_tee_on)) && exec 2>&"$_aiw_tee_err" {_aiw_tee_err}>&-
  ((_aiw_tee_w)) && exec {_aiw_tee_w}>&-
  ((_aiw_tee_r)) && exec {_aiw_tee_r}<&-
  _aiw_tee_w=0 _aiw_tee_r=0 _aiw_tee_on=0 _aiw_tee_pending=0
}

# Start the reader (one process for the shell's life) and open its FIFO.
_aiw_tee_start() {
  local fifo=$_aiw_dir/tee-$$-$RANDOM.fifo ready p
  declare -gA _aiw_tee_prog=() _aiw_tee_line=()
  _aiw_tee_glob=()
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
  if read -r -t 5 -u "$_aiw_tee_r" ready _aiw_tee_pid && [[ $ready == ready ]] &&
    exec {_aiw_tee_w}<>"$fifo"; then
    printf '\036%sH\n' "$_aiw_tee_tok" >&"$_aiw_tee_w"
    _aiw_x=1
    return 0
  fi
  _aiw_tee_stop
  return 1
}

# pty: only in the shell `aiw shell pty` started itself (not in a tmux pane that inherited it).
if [[ $_aiw_capture == pty && -n ${AIW_PTY-} && ${AIW_PTY_PID-} == "$PPID" ]]; then
  _aiw_pty_on=1 _aiw_x=1
  PS1=${PS1-}'\[\e]133;B\a\]'
fi

if [[ -n ${bash_preexec_imported-}${__bp_imported-} ]]; then
  # First among the precmd functions: stderr goes back to the terminal before others print.
  precmd_functions=(_aiw_bp_precmd "${precmd_functions[@]}")
  preexec_functions+=(_aiw_bp_preexec)
  [[ $_aiw_capture == tee ]] && _aiw_tee_start
elif ! readonly -p 2>/dev/null | grep -q ' PROMPT_COMMAND\b\| PS0\b'; then
  # PS0 is expanded before each command line runs (not for an empty line): the subscript's
  # arithmetic sets the flag, the start time in µs and the history count, all without a fork.
  PS0=${PS0-}'${_aiw_ps0[_aiw_ran=1,_aiw_t0=${EPOCHREALTIME//[!0-9]/}+0,_aiw_h=HISTCMD,0]-}'
  # pty: the C mark and the command counter, still without a fork. (tee needs a preexec
  # that runs in the shell itself: bash-preexec, loaded before aiw.)
  ((_aiw_pty_on)) && PS0+='${_aiw_ps0[_aiw_n+=1,0]-}\e]133;C\a'
  if [[ $(declare -p PROMPT_COMMAND 2>/dev/null) == 'declare -a'* ]]; then
    PROMPT_COMMAND=(_aiw_precmd "${PROMPT_COMMAND[@]}")
  else
    PROMPT_COMMAND=_aiw_precmd${PROMPT_COMMAND:+$'\n'$PROMPT_COMMAND}
  fi
fi
