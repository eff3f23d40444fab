import java.util.ArrayList;
import java.util.List;
import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Request;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * JUnitCore's console runner prints a dot per test; CI logs should name each test and its outcome.
 * Usage: EachTest LABEL CLASS... ; ends with JUnitCore's summary line ("OK (N tests)" or
 * "FAILURES!!! Tests run: N,  Failures: M") prefixed by LABEL, and exits 1 on any failure.
 * Java, not Kotlin: javac compiles it in a second where kotlinc needs a JVM warm-up.
 */
public final class EachTest {
    public static void main(String[] args) throws ClassNotFoundException {
        String label = args[0];
        List<Class<?>> classes = new ArrayList<>();
        for (int i = 1; i < args.length; i++) classes.add(Class.forName(args[i], false, EachTest.class.getClassLoader()));
        JUnitCore core = new JUnitCore();
        core.addListener(new RunListener() {
            private long started;
            private boolean reported;

            @Override public void testStarted(Description d) { started = System.nanoTime(); reported = false; }

            @Override public void testFailure(Failure f) {
                reported = true;
                System.out.println("FAIL  " + name(f.getDescription()));
                System.out.println(f.getTrace().replaceAll("(?m)^", "      "));
            }

            @Override public void testAssumptionFailure(Failure f) {
                reported = true;
                System.out.println("SKIP  " + name(f.getDescription()) + ": " + f.getMessage());
            }

            @Override public void testIgnored(Description d) { System.out.println("SKIP  " + name(d) + " (@Ignore)"); }

            @Override public void testFinished(Description d) {
                if (!reported) System.out.printf("ok    %s (%.1f s)%n", name(d), (System.nanoTime() - started) / 1e9);
            }
        });
        Result result = core.run(Request.classes(classes.toArray(new Class<?>[0])));
        if (result.wasSuccessful()) {
            System.out.println(label + ": OK (" + result.getRunCount() + " tests)");
        } else {
            System.out.println(label + ": FAILURES!!! Tests run: " + result.getRunCount() + ",  Failures: " + result.getFailureCount());
            for (Failure f : result.getFailures()) System.out.println("  failed: " + name(f.getDescription()));
        }
        System.exit(result.wasSuccessful() ? 0 : 1);
    }

    private static String name(Description d) {
        String cls = d.getTestClass() != null ? d.getTestClass().getSimpleName() : d.getClassName();
        return cls + "." + (d.getMethodName() != null ? d.getMethodName() : "(class)");
    }
}
