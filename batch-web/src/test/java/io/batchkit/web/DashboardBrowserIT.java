package io.batchkit.web;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.JobId;
import io.batchkit.JobQuery;
import io.batchkit.jdbc.TestDatabases;
import io.batchkit.spi.JobStore;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by Selenium through Debian's
 * {@code chromedriver} (so nothing is downloaded). Screenshots go to {@code target/}. Without
 * Chromium the test is skipped with a message; under {@code CI=true} it fails ({@code .ci/run}
 * installs the packages).
 */
class DashboardBrowserIT {
  private static final File CHROMIUM = new File("/usr/bin/chromium");
  private static final File DRIVER = new File("/usr/bin/chromedriver");
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final CountDownLatch release = new CountDownLatch(1);
  private BatchService service;
  private BatchWeb web;
  private WebDriver browser;
  private Path profile;

  @BeforeEach
  void start() throws IOException {
    if (!CHROMIUM.canExecute() || !DRIVER.canExecute()) {
      String message =
          "Chromium and chromedriver are needed at /usr/bin (apt-get install chromium"
              + " chromium-driver); .ci/run installs them";
      if (TestDatabases.isCi()) {
        throw new AssertionError("CI is set, so this is a failure, not a skip: " + message);
      }
      Assumptions.abort(message);
    }
    service =
        BatchService.builder()
            .store(JobStore.inMemory())
            .discoverProcessors(false)
            .maxConcurrency(4)
            .defaultMaxAttempts(1)
            .processor(
                "work",
                context -> {
                  Thread.sleep(20);
                  if (context.payload().startsWith("fail")) {
                    throw new IllegalStateException("refused " + context.payload());
                  }
                  return "done " + context.payload();
                })
            .processor(
                "hold",
                context -> {
                  release.await();
                  return "held";
                })
            .build();
    web = BatchWeb.builder(service).port(0).start();
    profile = Files.createTempDirectory("batchkit-chromium");
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM);
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--user-data-dir=" + profile);
    ChromeDriverService driver =
        new ChromeDriverService.Builder().usingDriverExecutable(DRIVER).usingAnyFreePort().build();
    browser = new ChromeDriver(driver, options);
    browser.manage().window().setSize(new Dimension(1280, 900));
  }

  @AfterEach
  void stop() throws IOException {
    release.countDown();
    if (browser != null) {
      browser.quit();
    }
    if (web != null) {
      web.close();
    }
    if (service != null) {
      service.close();
    }
    if (profile != null) {
      try (var files = Files.walk(profile)) {
        files.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
      }
    }
  }

  @Test
  void aPartlyFailingBatchReaches100Percent_aRunningOneIsCancelled_aWaitingOneGrowsAndStarts()
      throws Exception {
    List<String> items = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      items.add(i % 10 == 3 ? "fail-" + i : "item-" + i);
    }
    Batch partial =
        service.submit(
            BatchRequest.builder("work")
                .name("partly failing")
                .items(items)
                .maxConcurrency(2)
                .build());

    browser.get(web.uri().toString());
    WebDriverWait wait = new WebDriverWait(browser, WAIT);
    String row = "[data-batch-id='" + partial.id() + "']";
    wait.until(ExpectedConditions.textToBe(By.cssSelector(row + " .pct"), "100.0 %"));
    wait.until(ExpectedConditions.textToBe(By.cssSelector(row + " .status"), "PARTIAL"));
    screenshot("dashboard-list.png");

    browser.get(web.uri() + "#/batch/" + partial.id());
    wait.until(ExpectedConditions.textToBe(By.id("batch-status"), "PARTIAL"));
    wait.until(ExpectedConditions.textToBe(By.id("batch-pct"), "100.0 %"));
    wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector("tr[data-job-id]"), 25));
    wait.until(
        ExpectedConditions.textToBePresentInElementLocated(
            By.cssSelector("tr[data-event='FINISHED']"), "PARTIAL: 54 succeeded, 6 failed"));
    wait.until(
        ExpectedConditions.textToBePresentInElementLocated(
            By.id("batch-durations"), "job duration p50"));
    screenshot("dashboard-batch.png");
    // the fourth job failed: its attempt count opens its history
    click(wait, By.cssSelector("tr[data-job-id]:nth-child(4) button[data-action='history']"));
    wait.until(
        ExpectedConditions.textToBePresentInElementLocated(
            By.cssSelector("#attempts tr[data-outcome='FAILED']"), "refused fail-3"));
    click(wait, By.cssSelector("#attempts button.secondary"));
    wait.until(ExpectedConditions.numberOfElementsToBe(By.id("attempts"), 0));
    // it fails again when retried: its batch runs, then ends PARTIAL again with two attempts
    JobId fourth = service.getJobs(partial.id(), JobQuery.all()).items().get(3).id();
    click(wait, By.cssSelector("tr[data-job-id]:nth-child(4) button[data-action='retry-job']"));
    wait.until(d -> service.getJobHistory(fourth).size() == 2);
    wait.until(ExpectedConditions.textToBe(By.id("batch-status"), "PARTIAL"));
    browser.manage().window().setSize(new Dimension(390, 844)); // a phone
    wait.until(ExpectedConditions.textToBe(By.id("batch-status"), "PARTIAL"));
    screenshot("dashboard-phone.png");
    browser.manage().window().setSize(new Dimension(1280, 900));

    // the failed-jobs page lists it across batches, and retries it from there
    browser.get(web.uri() + "#/failed");
    wait.until(
        ExpectedConditions.textToBePresentInElementLocated(
            By.cssSelector("#failed-jobs tr[data-job-id='" + fourth + "']"), "refused fail-3"));
    click(
        wait,
        By.cssSelector(
            "#failed-jobs tr[data-job-id='" + fourth + "'] button[data-action='retry-job']"));
    wait.until(d -> service.getJobHistory(fourth).size() == 3);
    wait.until(d -> service.getBatch(partial.id()).isFinished());

    Batch held =
        service.submit(
            BatchRequest.builder("hold").name("held").items(List.of("1", "2", "3")).build());
    browser.get(web.uri() + "#/batch/" + held.id());
    wait.until(ExpectedConditions.textToBe(By.id("batch-status"), "PROCESSING"));
    click(wait, By.cssSelector("button[data-action='cancel']"));
    wait.until(ExpectedConditions.alertIsPresent()).accept();
    wait.until(ExpectedConditions.textToBe(By.id("batch-status"), "CANCELLED"));
    screenshot("dashboard-cancelled.png");

    // a batch that waits: items are added with the page's form, then it is started with its button
    Batch waiting =
        service.createBatch(
            BatchRequest.builder("work").name("waiting").items(List.of("a", "b")).build());
    browser.get(web.uri() + "#/batch/" + waiting.id());
    wait.until(ExpectedConditions.textToBe(By.id("batch-status"), "PENDING"));
    browser.findElement(By.id("new-added-items")).sendKeys("c\nd\ne");
    click(wait, By.cssSelector("button[data-action='add-items']"));
    wait.until(ExpectedConditions.numberOfElementsToBe(By.cssSelector("tr[data-job-id]"), 5));
    screenshot("dashboard-pending.png");
    click(wait, By.cssSelector("button[data-action='start']"));
    wait.until(ExpectedConditions.textToBe(By.id("batch-status"), "COMPLETED"));
    assertEquals(5, service.getBatch(waiting.id()).progress().succeeded());

    assertEquals(BatchStatus.CANCELLED, service.awaitCompletion(held.id(), WAIT).status());
    assertEquals(BatchStatus.PARTIAL, service.getBatch(partial.id()).status());
  }

  /**
   * Clicks what {@code target} finds once it can be clicked. The page re-renders its tables as it
   * polls, so an element found just before a re-render is stale by the click; the click is then
   * tried again on what {@code target} finds now (a stale element takes no click).
   */
  private static void click(WebDriverWait wait, By target) {
    wait.ignoring(StaleElementReferenceException.class)
        .until(
            d -> {
              WebElement element = ExpectedConditions.elementToBeClickable(target).apply(d);
              if (element == null) {
                return false; // not there or not clickable yet: look again
              }
              element.click();
              return true;
            });
  }

  private void screenshot(String name) throws IOException {
    File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
    Path target = Path.of("target", name);
    Files.createDirectories(target.getParent());
    Files.copy(shot.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
  }
}
