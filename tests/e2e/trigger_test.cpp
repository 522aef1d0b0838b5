// Row triggers on a stream table see the change as PostgreSQL would: a
// group that changes is an UPDATE (not DELETE + INSERT).
#include <catch2/catch.hpp>

#include "e2e/daemon_process.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

TEST_CASE_METHOD(PgDatabase, "e2e: a trigger on a group-by target sees TG_OP UPDATE when a group changes",
                 "[e2e][trigger]") {
  exec(R"sql(
    CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, v int);
    INSERT INTO items SELECT g, g % 4, g FROM generate_series(1, 20) g;
    CREATE TABLE trig_log (seq bigserial PRIMARY KEY, op text, old_grp int, old_n bigint, old_s bigint,
                           new_grp int, new_n bigint, new_s bigint);
  )sql");
  const StreamTableSpec t_grp{"public.t_grp",
                              "SELECT grp, count(*) AS n, sum(v) AS s FROM items GROUP BY grp"};
  DaemonProcess daemon(*this, {t_grp});
  daemon.start();
  daemon.wait_until_active(1);
  exec(R"sql(
    CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO trig_log (op, new_grp, new_n, new_s) VALUES (TG_OP, NEW.grp, NEW.n, NEW.s);
      ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO trig_log (op, old_grp, old_n, old_s, new_grp, new_n, new_s)
        VALUES (TG_OP, OLD.grp, OLD.n, OLD.s, NEW.grp, NEW.n, NEW.s);
      ELSE
        INSERT INTO trig_log (op, old_grp, old_n, old_s) VALUES (TG_OP, OLD.grp, OLD.n, OLD.s);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER t_grp_log AFTER INSERT OR UPDATE OR DELETE ON t_grp FOR EACH ROW EXECUTE FUNCTION log_change();
  )sql");
  PgConnection check(conninfo());
  auto log_rows = [&] {
    return check.query_value(
        "SELECT coalesce(string_agg(format('%s(%s,%s,%s -> %s,%s,%s)', op, old_grp, old_n, old_s, new_grp, "
        "new_n, "
        "new_s), '; ' ORDER BY seq), '') FROM trig_log");
  };

  // Group 1 (ids 1, 5, 9, 13, 17: n 5, s 45) changes its sum.
  exec("UPDATE items SET v = v + 100 WHERE id = 5");
  sync_all(conninfo(), 1, std::chrono::seconds(60), &daemon);
  CHECK(log_rows() == "UPDATE(1,5,45 -> 1,5,145)");
  check_equal(check, t_grp.name, t_grp.query);

  // A new group, then its last row leaves; and a row moves between groups.
  exec("DELETE FROM trig_log; INSERT INTO items VALUES (100, 9, 1)");
  sync_all(conninfo(), 1, std::chrono::seconds(60), &daemon);
  CHECK(log_rows() == "INSERT(,, -> 9,1,1)");
  exec("DELETE FROM trig_log; DELETE FROM items WHERE id = 100");
  sync_all(conninfo(), 1, std::chrono::seconds(60), &daemon);
  CHECK(log_rows() == "DELETE(9,1,1 -> ,,)");
  exec("DELETE FROM trig_log; UPDATE items SET grp = 3 WHERE id = 2");  // group 2 (n 5, s 50) -> group 3 (n
                                                                        // 5, s 55)
  sync_all(conninfo(), 1, std::chrono::seconds(60), &daemon);
  CHECK(check.query_value("SELECT string_agg(op, ',' ORDER BY op) FROM trig_log") == "UPDATE,UPDATE");
  CHECK(
      check.query_value("SELECT string_agg(format('%s:%s->%s', new_grp, old_n, new_n), ',' ORDER BY new_grp) "
                        "FROM trig_log") == "2:5->4,3:5->6");
  check_equal(check, t_grp.name, t_grp.query);
  CHECK(daemon.sigterm_and_wait() == 0);
}
