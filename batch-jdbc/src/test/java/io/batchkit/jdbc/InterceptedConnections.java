package io.batchkit.jdbc;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import javax.sql.DataSource;

/**
 * Data sources for tests that must step in between the store and the database: every call to a
 * connection they lend goes through a {@link Hook} first, which may act on the real connection or
 * throw in the call's place.
 */
final class InterceptedConnections {
  private InterceptedConnections() {}

  /** What a test does before a call reaches the real connection. */
  @FunctionalInterface
  interface Hook {
    /**
     * Runs before {@code method} is called on {@code real} with {@code args}; returns to let the
     * call through, or throws what the call should throw.
     */
    void before(Connection real, Method method, Object[] args) throws Throwable;
  }

  /** Wraps {@code ds} so that the connections it lends run {@code hook} before each call. */
  static DataSource wrap(DataSource ds, Hook hook) {
    return (DataSource)
        Proxy.newProxyInstance(
            DataSource.class.getClassLoader(),
            new Class<?>[] {DataSource.class},
            (proxy, method, args) -> {
              Object result = invoke(method, ds, args);
              if (!method.getName().equals("getConnection")) {
                return result;
              }
              Connection real = (Connection) result;
              return Proxy.newProxyInstance(
                  Connection.class.getClassLoader(),
                  new Class<?>[] {Connection.class},
                  (p, m, a) -> {
                    hook.before(real, m, a);
                    return invoke(m, real, a);
                  });
            });
  }

  private static Object invoke(Method method, Object target, Object[] args) throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
