# coding=utf-8
# Copyright 2026 The BERT rebuild authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""How every script runs from the command line, without TensorFlow.

`run_script` parses a script's own `flags.FlagValues`, answers --help,
checks the required flags and runs the script's `main`, turning a user
error into one line on stderr and exit status 1. cli.py adds TensorFlow's
error types and logging set-up on top; scripts that need no TensorFlow at
all (create_vocab.py) use this module directly, so that they start in a
fraction of a second and their memory is their own.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import os
import sys
import traceback

from absl import flags
# absl.logging defines --verbosity, which every script accepts.
from absl import logging as absl_logging  # pylint: disable=unused-import

# Exceptions that mean "the user's input or environment is wrong" when no
# TensorFlow is involved (cli.USER_ERRORS adds TensorFlow's file errors).
USER_ERRORS = (ValueError, IOError, OSError)


def script_name():
  """The running script's file name, for error lines."""
  return os.path.basename(sys.argv[0]) if sys.argv else "bert"


def fail(message, program=None):
  """Prints `<program>: error: <message>` as one line and exits with 1
  (`program` defaults to the script's file name)."""
  one_line = " ".join(str(message).split())
  sys.stderr.write("%s: error: %s\n" % (program or script_name(), one_line))
  sys.stderr.flush()
  sys.exit(1)


def script_help(flag_values, usage=None):
  """The --help text: the script's usage text, then its flags."""
  text = flag_values.get_help()
  if usage:
    text = "%s\n\nFlags:\n%s" % (usage.strip(), text)
  return text


def run_script(main, flag_values, usage=None, argv=None, required=(),
               user_errors=USER_ERRORS, setup_logging=None):
  """Parses `argv` into `flag_values`, runs `main(argv)`, reports errors.

  Replaces `absl.app.run` for scripts with their own FlagValues. Supports
  --flagfile, --help/--helpfull (which print `usage`, the script's
  docstring, before the flags), absl's --verbosity, and absl's boolean
  forms (--x, --nox, --x=true). Flag errors (including a flag of
  `required` left unset) print the usage error; `user_errors` (bad values,
  missing or unreadable files, corrupt data) print one line; both exit 1.
  `required` is checked here rather than marked on the FlagValues, so that
  a script's FLAGS stay usable without them in the same process (tests,
  notebooks).

  Args:
    main: callable taking the arguments left after the flags.
    flag_values: the script's flags.FlagValues.
    usage: str, the --help text before the flags.
    argv: list of str with the program name first; sys.argv if None.
    required: names of flags that must be set.
    user_errors: tuple of exception types reported as one line.
    setup_logging: callable taking absl's --verbosity, run before `main`.
  """
  argv = list(sys.argv if argv is None else argv)
  program = os.path.basename(argv[0]) if argv else None
  if "verbosity" not in flag_values:
    # absl's own flag object: its value is what absl logging reads.
    flag_values["verbosity"] = flags.FLAGS["verbosity"]
  if any(arg in ("-h", "--help", "--helpfull", "-?") for arg in argv[1:]):
    print(script_help(flag_values, usage))
    sys.exit(0)
  try:
    remaining = flag_values(argv)
  except flags.Error as error:
    fail("%s (run with --help to list the flags)" % error, program)
  missing = [name for name in required if flag_values[name].value is None]
  if len(missing) == 1:  # absl's own words for a required flag.
    fail("flag --%s=None: Flag --%s must have a value other than None. "
         "(run with --help to list the flags)" % (missing[0], missing[0]),
         program)
  if missing:
    fail("flags %s must have a value other than None. (run with --help to "
         "list the flags)" % ", ".join("--" + name for name in missing),
         program)
  # absl's logging reads the global FLAGS; mark them parsed (with their
  # defaults) so that it does not warn about logging before flag parsing.
  flags.FLAGS.mark_as_parsed()
  if setup_logging is not None:
    setup_logging(flag_values.verbosity)
  try:
    main(remaining)
  except user_errors as error:
    if os.environ.get("BERT_TRACEBACK"):
      traceback.print_exc()
    message = getattr(error, "message", None) or str(error)
    fail(message, program)
  except KeyboardInterrupt:
    fail("interrupted; outputs that were not finished were not renamed to "
         "their final names", program)
