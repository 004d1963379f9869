"""A second balancing method in an upstream with `lbkit`, before or after
it, fails `nginx -t` with an error naming both directives and where each
is (nginx's own balancers would only warn "load balancing method
redefined" and silently replace lbkit)."""
import re
import unittest

from nginx_harness import NginxTestCase, config_test, keepalive_by_default, proxy_server

OTHERS = ["hash $arg_k", "hash $arg_k consistent", "ip_hash", "least_conn",
          "random", "random two least_conn"]


def body(*directives):
    """An upstream `api` with each directive on its own line (lines 6, 7,
    ... of the configuration), then two servers."""
    lines = ["upstream api {"] + [f"  {d};" for d in directives]
    lines += ["  server 127.0.0.1:9;", "  server 127.0.0.1:10;", "}",
              proxy_server({"/": "api"})]
    return "\n".join(lines)


# load_module, worker_processes, events, `http {`, access_log, `upstream {`
FIRST_LINE = 7


class MethodConflicts(NginxTestCase):

    def refused(self, *directives):
        rc, out, conf = config_test(body(*directives))
        self.assertNotEqual(rc, 0, out)
        self.assertIn("[emerg]", out)
        return out, conf

    def assert_both_named(self, first, second):
        """`first; second;` is refused; the error names @second at line
        FIRST_LINE + 1 and @first (as `shown`, full text) at FIRST_LINE."""
        out, conf = self.refused(first, second)
        shown = {d: (d if d.startswith("lbkit") else d.split()[0])
                 for d in (first, second)}
        this = second.split()[0]
        where = re.escape(f"{conf}:{FIRST_LINE}")
        self.assertRegex(
            out, rf'"{this}" cannot follow "{shown[first]}" \({where}\) '
            r'in upstream "api": an upstream has one balancing method, '
            rf'remove one of them in {re.escape(conf)}:{FIRST_LINE + 1}')

    def test_other_method_after_lbkit(self):
        for other in OTHERS:
            with self.subTest(other=other):
                self.assert_both_named("lbkit peak_ewma", other)

    def test_lbkit_after_other_method(self):
        for other in OTHERS:
            with self.subTest(other=other):
                self.assert_both_named(other, "lbkit least_conn")

    def test_lbkit_after_keepalive(self):
        if keepalive_by_default():
            # nginx >= 1.29.7 hooks keepalive in after the whole upstream is
            # read: the order is free there, and lbkit accepts it.
            rc, out, _ = config_test(body("keepalive 4", "lbkit round_robin"))
            self.assertEqual(rc, 0, out)
            return
        out, conf = self.refused("keepalive 4", "lbkit round_robin")
        self.assertRegex(
            out, rf'"lbkit" must come before "keepalive" \({re.escape(conf)}:'
            rf'{FIRST_LINE}\) in upstream "api" in {re.escape(conf)}:{FIRST_LINE + 1}')

    def test_the_balancer_is_named_rather_than_keepalive(self):
        out, conf = self.refused("hash $arg_k", "keepalive 4", "lbkit first")
        self.assertRegex(out, rf'"lbkit" cannot follow "hash" \({re.escape(conf)}:'
                              rf'{FIRST_LINE}\)')

    def test_keepalive_after_lbkit_is_accepted(self):
        rc, out, _ = config_test(body("lbkit least_conn", "keepalive 4",
                                      "keepalive_requests 50"))
        self.assertEqual(rc, 0, out)
        self.assertNotIn("redefined", out)

    def test_builtin_methods_alone_still_work(self):
        # the wrapped directives behave as before where lbkit is absent
        for other in OTHERS:
            with self.subTest(other=other):
                rc, out, _ = config_test(body(other, "keepalive 4"))
                self.assertEqual(rc, 0, out)
                rc, out, _ = config_test(body(other, "least_conn"))
                self.assertEqual(rc, 0, out)
                self.assertIn("load balancing method redefined", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
