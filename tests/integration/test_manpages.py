"""The manual pages render cleanly and say what the code does.

- every page in man/ renders with `man -l` and passes `mandoc -Tlint` and
  `groff -ww -z` without a single message;
- lbctl.1 names every subcommand and option that `lbctl --help` and
  `lbctl SUB --help` list (each option inside its subcommand's subsection),
  and every exit code of cli/exit_codes.h;
- lbctl.ini.5 names every key cli/config.cc accepts;
- ngx_http_upstream_lbkit_module.8 names every directive the module's
  sources register and every `name=` parameter they parse;
- the complete example of liblbkit.3 compiles against the built library,
  runs, and prints what the page says it prints.
"""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import lbktest  # noqa: E402

MAN_DIR = os.path.join(lbktest.SOURCE_DIR, "man")
PAGES = ["lbctl.1", "lbctl.ini.5", "liblbkit.3", "ngx_http_upstream_lbkit_module.8"]
LBCTL = lbktest.build_path("cli", "lbctl")


def page_path(name):
    return os.path.join(MAN_DIR, name)


def roff_to_text(source):
    """The words of a roff source: escapes and font changes removed."""
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]", "", source)
    text = text.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
    text = text.replace("\\(aq", "'").replace("\\(dq", '"').replace("\\%", "")
    text = re.sub(r"\\\((lq|rq)", '"', text)
    # macro names at line start (".BR foo bar" -> "foo bar")
    text = re.sub(r"^\.[A-Za-z]+ ?", "", text, flags=re.M)
    return text.replace('"', " ")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def sections(source, macro):
    """{title: body} for every `.SH`/`.SS` (per @macro) of a roff source."""
    out = {}
    parts = re.split(r"^\.%s +(.*)$" % macro, source, flags=re.M)
    for i in range(1, len(parts), 2):
        out[roff_to_text(parts[i]).strip()] = parts[i + 1]
    return out


def mentions(text, word):
    """@word appears in @text as a whole token (options: not a prefix)."""
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), text) is not None


def help_of(argv):
    r = lbktest.run([LBCTL] + argv + ["--help"], timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"lbctl {' '.join(argv)} --help exited {r.returncode}: {r.stderr}")
    return r.stdout


def parse_help(text):
    """(options, subcommands) listed by a CLI11 help text."""
    options, subcommands, block = [], [], None
    for line in text.splitlines():
        if re.match(r"^\S.*:\s*$", line):
            block = line.strip().rstrip(":").lower()
            continue
        m = re.match(r"^  (\S.*?)(?:\s{2,}.*)?$", line)
        if not m or block is None:
            continue
        first_column = m.group(1)
        if block.startswith("option"):
            # "-c,--config TEXT REQUIRED": the names before the value type
            names = first_column.split()[0]
            options.extend(n for n in names.split(",") if n.startswith("-"))
        elif block.startswith("subcommand"):
            subcommands.append(first_column.split()[0])
    return options, subcommands


class ManPagesRender(unittest.TestCase):
    def test_pages_exist(self):
        for page in PAGES:
            self.assertTrue(os.path.isfile(page_path(page)), f"man/{page} is missing")

    def test_man_renders(self):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_DISABLE_SECCOMP="1")
        for page in PAGES:
            r = lbktest.run(["man", "-l", page_path(page)], env=env, timeout=60)
            self.assertEqual(r.returncode, 0, f"man -l {page}: {r.stderr}")
            self.assertEqual(r.stderr, "", f"man -l {page} warned")
            self.assertGreater(len(r.stdout.splitlines()), 20, f"man -l {page} rendered too little")
            self.assertIn("NAME", r.stdout)

    def test_mandoc_lint_clean(self):
        for page in PAGES:
            r = lbktest.run(["mandoc", "-Tlint", "-Wstyle", page_path(page)], timeout=60)
            self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""),
                             f"mandoc -Tlint {page}")

    def test_groff_warnings_clean(self):
        for page in PAGES:
            r = lbktest.run(["groff", "-ww", "-z", "-man", page_path(page)], timeout=60)
            self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""),
                             f"groff -ww -z {page}")


class LbctlPageMatchesHelp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.source = read(page_path("lbctl.1"))
        cls.text = roff_to_text(cls.source)
        cls.subsections = {title: roff_to_text(body)
                           for title, body in sections(cls.source, "SS").items()}
        # Options shared by several subcommands are documented once, in
        # NODE OPTIONS; a subsection that says "node options" includes them.
        cls.shared = roff_to_text(sections(cls.source, "SH").get("NODE OPTIONS", ""))

    def subcommand_text(self, path):
        title = "lbctl " + " ".join(path)
        self.assertIn(title, self.subsections,
                      f"lbctl.1 has no subsection '.SS {title}' "
                      f"(has: {sorted(self.subsections)})")
        text = self.subsections[title]
        return text + self.shared if "node options" in text else text

    def walk(self, path):
        """Checks @path's options and recurses into its subcommands."""
        options, subcommands = parse_help(help_of(path))
        where = self.subcommand_text(path) if path else self.text
        for option in options:
            if option in ("-h", "--help"):
                continue  # every subcommand has it; the page says so once
            self.assertTrue(mentions(where, option),
                            f"lbctl.1: option {option} of 'lbctl {' '.join(path)}' "
                            "is not documented in its section")
        return [path + [s] for s in subcommands]

    def test_every_subcommand_and_option(self):
        top_options, top_subcommands = parse_help(help_of([]))
        self.assertGreaterEqual(len(top_subcommands), 6,
                                f"lbctl --help lists too few subcommands: {top_subcommands}")
        todo, seen = self.walk([]), 0
        while todo and seen < 100:  # bounded: lbctl has about a dozen commands
            path = todo.pop(0)
            seen += 1
            todo.extend(self.walk(path))
        self.assertTrue(mentions(self.text, "--help"))
        self.assertTrue(mentions(self.text, "--version"))

    def test_every_exit_code(self):
        header = read(os.path.join(lbktest.SOURCE_DIR, "cli", "exit_codes.h"))
        codes = re.findall(r"kExit\w+\s*=\s*(\d+)", header)
        self.assertGreaterEqual(len(codes), 5)
        status = sections(self.source, "SH").get("EXIT STATUS")
        self.assertIsNotNone(status, "lbctl.1 has no EXIT STATUS section")
        tags = re.findall(r"^\.TP\n\.?B? ?(\d+)$", status, flags=re.M)
        self.assertEqual(sorted(set(tags)), sorted(set(codes)),
                         "EXIT STATUS documents other codes than cli/exit_codes.h")


class IniPageMatchesParser(unittest.TestCase):
    def test_every_key(self):
        parser = read(os.path.join(lbktest.SOURCE_DIR, "cli", "config.cc"))
        keys = set(re.findall(r'key == "([a-z_]+)"', parser))
        self.assertGreaterEqual(len(keys), 20, "cli/config.cc: keys not found")
        text = roff_to_text(read(page_path("lbctl.ini.5")))
        missing = sorted(k for k in keys if not mentions(text, k))
        self.assertEqual(missing, [], "keys cli/config.cc accepts but lbctl.ini.5 omits")


class NginxPageMatchesModule(unittest.TestCase):
    def test_every_directive_and_parameter(self):
        module_dir = os.path.join(lbktest.SOURCE_DIR, "nginx-module")
        sources = "".join(read(os.path.join(module_dir, f))
                          for f in sorted(os.listdir(module_dir)) if f.endswith(".c"))
        # directives: the command table; methods: the method table;
        # `lbkit_check` parameters: the rows of the parameter table
        # (LBK_TIME("interval", ...) and the like); other NAME= words
        # (decay=, balance_factor=) appear as string literals.
        directives = set(re.findall(r'\{\s*ngx_string\("(lbkit\w*)"\),\s*NGX_', sources))
        methods = set(re.findall(r'\{\s*ngx_string\("(\w+)"\),\s*NGX_HTTP_LBKIT_ARGS_', sources))
        parameters = set(re.findall(r'^\s*LBK_[A-Z]+\("(\w+)",', sources, flags=re.M))
        parameters |= set(re.findall(r'"([a-z_]+)=",', sources))
        self.assertIn("lbkit", directives, "no `lbkit` directive found in nginx-module/*.c")
        self.assertGreaterEqual(len(methods), 5, "method table not found")
        self.assertGreaterEqual(len(parameters), 10, "parameter table not found")
        text = roff_to_text(read(page_path("ngx_http_upstream_lbkit_module.8")))
        missing = sorted(d for d in directives | methods if not mentions(text, d))
        self.assertEqual(missing, [], "directives or methods missing from the page")
        missing = sorted(p for p in parameters
                         if not re.search(r"(?<![\w-])%s=" % re.escape(p), text))
        self.assertEqual(missing, [], "parameters missing from the page")


class LibraryExampleRuns(unittest.TestCase):
    def test_example_compiles_runs_and_prints_what_the_page_says(self):
        source = read(page_path("liblbkit.3"))
        blocks = re.findall(r"^\.EX\n(.*?)^\.EE$", source, flags=re.M | re.S)
        programs = [b for b in blocks if b.startswith("/* example.c")]
        self.assertEqual(len(programs), 1, "liblbkit.3: no '/* example.c' block")
        index = blocks.index(programs[0])
        expected = blocks[index + 1]  # the "It prints:" block follows

        def unescape(block):
            return block.replace("\\e", "\\").replace("\\-", "-").replace("\\(aq", "'")

        libdir = lbktest.build_path("lib")
        with lbktest.tempdir() as tmp:
            c_file = os.path.join(tmp, "example.c")
            with open(c_file, "w") as f:
                f.write(unescape(programs[0]))
            exe = os.path.join(tmp, "example")
            r = lbktest.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", exe, c_file,
                             "-I" + os.path.join(lbktest.SOURCE_DIR, "lib", "include"),
                             "-L" + libdir, "-Wl,-rpath," + libdir, "-llbkit"], timeout=120)
            self.assertEqual(r.returncode, 0, f"the example does not compile:\n{r.stderr}")
            r = lbktest.run([exe], timeout=30)
            self.assertEqual(r.returncode, 0, f"the example failed:\n{r.stderr}")
            self.assertEqual(r.stdout.split(), unescape(expected).split(),
                             "the example prints something else than liblbkit.3 says")


if __name__ == "__main__":
    unittest.main(verbosity=2)
