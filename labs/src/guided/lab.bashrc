# The trainee's shell in `lab run`: their own bash, plus a hook that tells lab what they ran.
#
# lab starts `bash --rcfile <session>/lab.bashrc -i` on the trainee's terminal. Everything the
# trainee types runs here, as in any shell (history, line editing, completion, variables, `cd`,
# aliases). Before each prompt, the hook reports the command line just run, its exit status,
# when it started and ended and where the shell is, to lab over a socket (`lab __hook report`);
# lab checks the step and answers what to print. lab never reads the screen.
#
# The environment lab sets: __LAB_BIN (the lab program), __LAB_DOCKER_DIR (where the lab's
# `docker` is), __LAB_SOCKET, __LAB_STATE (the prompt
# and whether the lab is over), __LAB_VARS (the lab's variables, as `export` lines),
# __LAB_USER_RC (the trainee's own ~/.bashrc), HISTFILE.

# The trainee's own settings and aliases first, so the lab's hook comes last and wins.
if [ -n "${__LAB_USER_RC:-}" ] && [ -r "$__LAB_USER_RC" ]; then
    . "$__LAB_USER_RC"
fi
# The lab's `docker` first on PATH, whatever the trainee's rc put before it.
PATH="$__LAB_DOCKER_DIR:$PATH"
# Completion, docker's included, where the system has it.
if ! shopt -oq posix && [ -r /usr/share/bash-completion/bash_completion ]; then
    . /usr/share/bash-completion/bash_completion
fi

# History per lab, every line kept (the hook reads the line it reports from it).
HISTSIZE=10000
HISTFILESIZE=10000
HISTCONTROL=
HISTIGNORE=
HISTTIMEFORMAT=
shopt -s histappend cmdhist

# The lab's words at the prompt: lab answers them itself.
step()    { "$__LAB_BIN" __hook ask step; __lab_read_state; }
hint()    { "$__LAB_BIN" __hook ask hint; __lab_read_state; }
check()   { "$__LAB_BIN" __hook ask check; __lab_read_state; }
explain() { "$__LAB_BIN" __hook ask explain; __lab_read_state; }
skip()    { "$__LAB_BIN" __hook ask skip; __lab_read_state; }

__lab_read_state() {
    { IFS= read -r __lab_prompt; IFS= read -r __lab_over; } < "$__LAB_STATE" 2>/dev/null
    # The lab's names and what it captured, as exported variables: `${busybox_id}`.
    . "$__LAB_VARS" 2>/dev/null
}

# preexec: the first command after a prompt marks the start of what the trainee typed.
# (Empty until the first prompt: the rest of this file is not the trainee's.)
__lab_at_prompt=
__lab_in_prompt_command=
__lab_preexec() {
    [ "$__lab_at_prompt" = 1 ] || return 0
    [ -z "$__lab_in_prompt_command" ] || return 0
    [ -z "${COMP_LINE:-}" ] || return 0
    case $BASH_COMMAND in __lab_status*|__lab_precmd*) return 0 ;; esac
    __lab_at_prompt=0
    __lab_started=$EPOCHREALTIME
    __lab_line=$(builtin history 1)
}
trap '__lab_preexec' DEBUG

# precmd, in two halves around whatever else PROMPT_COMMAND runs: the status must be read first.
__lab_status() {
    __lab_exit_status=$?
    __lab_ended=$EPOCHREALTIME
    __lab_in_prompt_command=1
}
__lab_precmd() {
    builtin history -a
    if [ "$__lab_at_prompt" = 0 ]; then
        "$__LAB_BIN" __hook report "$__lab_exit_status" "$__lab_started" "$__lab_ended" "$PWD" "$__lab_line"
    fi
    __lab_read_state
    __lab_at_prompt=1
    __lab_in_prompt_command=
    if [ "$__lab_over" = exit ]; then
        builtin exit 0
    fi
}
PROMPT_COMMAND=(__lab_status "${PROMPT_COMMAND[@]}" __lab_precmd)

__lab_read_state
if [ -n "${NO_COLOR:-}" ]; then
    PS1='[${__lab_prompt}] \W \$ '
else
    PS1='\[\e[36m\][${__lab_prompt}]\[\e[0m\] \W \$ '
fi
