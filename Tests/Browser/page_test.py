#!/usr/bin/env python3
"""Drives Scribe's page in headless Chromium as a person would.

    python Tests/Browser/page_test.py --base URL --screenshots DIR --fixtures DIR

Registers, starts a conversation, uploads two files at once and watches them
reach done live (no reload), asks a question and watches the answer stream
in, reloads, checks nothing a user wrote is read as HTML, uploads a text file
and opens (by keyboard) the page an answer about it names as its source,
checks the console for Content-Security-Policy violations, and logs out. Each
step leaves a screenshot DIR/NN-step-name.png; on failure DIR/failure.png,
and the exit status is non-zero.
"""

import argparse
import os
import sys
import tempfile
import time
import traceback
import uuid

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

LONG = 60  # OCR and answers
SHORT = 15  # page reactions


class Failure(Exception):
    pass


def tid(name):
    return (By.CSS_SELECTOR, f'[data-testid="{name}"]')


class PageTest:
    def __init__(self, base, shots, fixtures):
        self.base = base.rstrip('/')
        self.shots = shots
        self.fixtures = fixtures
        self.step_no = 0
        options = webdriver.ChromeOptions()
        options.binary_location = '/usr/bin/chromium'
        for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1280,900', '--lang=en-US'):
            options.add_argument(arg)
        options.add_experimental_option('prefs', {'intl.accept_languages': 'en-US,en'})
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
        self.driver.set_page_load_timeout(30)
        self.console = []

    # ------------------------------------------------------------ helpers

    def shot(self, name):
        self.step_no += 1
        path = os.path.join(self.shots, f'{self.step_no:02d}-{name}.png')
        self.driver.save_screenshot(path)
        print(f'  ok  {self.step_no:02d} {name}  ({path})', flush=True)

    def wait(self, condition, timeout=SHORT, what='a condition'):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            raise Failure(f'timed out after {timeout} s waiting for {what}') from None

    def visible(self, name, timeout=SHORT):
        return self.wait(lambda d: next((e for e in d.find_elements(*tid(name)) if e.is_displayed()), False),
                         timeout, f'[data-testid="{name}"] to be visible')

    def messages(self):
        """Every message element as a dict (read in one script call, so a re-render cannot make it stale)."""
        return self.driver.execute_script("""
            return [...document.querySelectorAll('[data-testid="message"]')].map(m => ({
              id: m.dataset.messageId || '', role: m.dataset.role, status: m.dataset.status,
              text: (m.querySelector('[data-testid="message-text"]') || m).textContent,
              hasFile: !m.querySelector('.attachment').hidden,
              recognised: !!m.querySelector('details[data-testid="recognised-text"]:not([hidden])'),
              error: (m.querySelector('[data-testid="message-error"]') || {}).textContent || '',
            }));
        """)

    def drain_console(self):
        try:
            self.console.extend(self.driver.get_log('browser'))
        except WebDriverException:
            pass

    def wait_answered(self, before, what):
        """Waits for the messages after the first `before` to end in a done answer (a failure fails at once)."""
        def answered(d):
            ms = self.messages()[before:]
            if any(m['status'] == 'failed' for m in ms):
                raise Failure(f'{what} failed: {ms}; alert: {self.alert_text()!r}')
            return len(ms) >= 2 and ms[-1]['role'] == 'assistant' and all(m['status'] == 'done' for m in ms)
        self.wait(answered, LONG, f'{what} and its answer to be done')

    def alert_text(self):
        return self.driver.execute_script(
            "const a = document.getElementById('alert'); return a && !a.hidden ? a.textContent.trim() : '';")

    # ------------------------------------------------------------ steps

    def run(self):
        d = self.driver

        # 1. The auth form; register.
        d.get(self.base + '/')
        email_input = self.visible('auth-email')
        self.visible('auth-password')
        self.visible('auth-register')
        lang = d.execute_script('return document.documentElement.lang')
        if lang != 'en':
            raise Failure(f'<html lang> is {lang!r}, expected "en" for an en-US browser')
        email = f'browser-{uuid.uuid4().hex[:12]}@example.com'
        email_input.send_keys(email)
        d.find_element(*tid('auth-password')).send_keys('correct horse battery')
        d.find_element(*tid('auth-register')).click()
        self.visible('logout')
        self.wait(lambda d: email in d.find_element(By.ID, 'user-email').text, SHORT, 'the email in the header')
        self.shot('registered')

        # 2. A new conversation.
        self.visible('new-conversation').click()
        self.wait(lambda d: len(d.find_elements(*tid('conversation'))) == 1, SHORT, 'one conversation item')
        self.wait(lambda d: d.execute_script(
            "return !!document.querySelector('[data-testid=conversation].current')"), SHORT, 'it to be selected')
        self.shot('new-conversation')

        # 3. Two files at once; watch them reach done live.
        paths = [os.path.abspath(os.path.join(self.fixtures, n)) for n in ('invoice_en.png', 'letter_ru.png')]
        for p in paths:
            if not os.path.isfile(p):
                raise Failure(f'fixture missing: {p}')
        d.find_element(*tid('file-input')).send_keys('\n'.join(paths))
        seen_intermediate = set()
        deadline = time.monotonic() + LONG
        screenshot_taken = False
        while True:
            ms = self.messages()
            users = [m for m in ms if m['role'] == 'user' and m['hasFile']]
            for m in users:
                if m['status'] in ('queued', 'processing'):
                    seen_intermediate.add(m['status'])
                if m['status'] == 'failed':
                    raise Failure(f'a file message failed: {m["error"]!r}')
            if users and seen_intermediate and not screenshot_taken:
                self.shot('files-in-progress')
                screenshot_taken = True
            assistants = [m for m in ms if m['role'] == 'assistant' and m['status'] == 'done']
            if len(users) == 2 and all(m['status'] == 'done' for m in users) and len(assistants) == 2:
                break
            if time.monotonic() > deadline:
                raise Failure(f'files did not reach done within {LONG} s; messages: {ms}; alert: {self.alert_text()!r}')
            time.sleep(0.05)  # a poll interval, not a wait for correctness
        if not seen_intermediate:
            raise Failure('no intermediate status (queued/processing) was observed for a file message')
        if not any(m['recognised'] for m in users):
            raise Failure('no "Recognised text" <details> on a done file message')
        if d.execute_script("return document.querySelectorAll('details[data-testid=recognised-text]:not([hidden]) pre')"
                            "[0].textContent.trim().length") == 0:
            raise Failure('the recognised text is empty')
        print(f'      intermediate statuses seen: {sorted(seen_intermediate)}')
        # Open the first recognised text for the screenshot.
        d.execute_script("document.querySelector('details[data-testid=recognised-text]:not([hidden])').open = true;"
                         "document.getElementById('message-list').scrollTop = 0;")
        self.shot('files-done')

        # 4. A question; the answer streams in.
        before = len(self.messages())
        box = d.find_element(*tid('chat-input'))
        box.send_keys('What is the total on the invoice?')
        d.find_element(*tid('chat-send')).click()
        samples = []
        deadline = time.monotonic() + LONG
        while True:
            ms = self.messages()
            last = ms[-1] if ms else None
            if len(ms) >= before + 2 and last['role'] == 'assistant':
                text = last['text']
                if last['status'] == 'processing' and text and text != 'Thinking…' and (not samples or samples[-1] != text):
                    samples.append(text)
                    if len(samples) == 2:
                        self.shot('answer-streaming')
                if last['status'] == 'done':
                    final = last['text']
                    break
                if last['status'] == 'failed':
                    raise Failure(f'the answer failed: {last}')
            if any(m['status'] == 'failed' for m in ms[before:]):
                raise Failure(f'the chat failed: {ms[before:]}; alert: {self.alert_text()!r}')
            if time.monotonic() > deadline:
                raise Failure(f'the answer did not finish within {LONG} s; messages: {ms[before:]}')
            time.sleep(0.03)
        if len(samples) < 2:
            raise Failure(f'saw the streamed answer only {len(samples)} time(s) before it was done: {samples}')
        if not all(len(a) < len(b) for a, b in zip(samples, samples[1:])):
            raise Failure(f'the streamed answer did not grow: {samples}')
        if len(final) < len(samples[-1]):
            raise Failure(f'the final answer {final!r} is shorter than what was streamed {samples[-1]!r}')
        self.wait(lambda d: [m['status'] for m in self.messages()][-2:] == ['done', 'done'], SHORT,
                  'the question and answer to be done')
        print(f'      streamed samples: {len(samples)}, lengths {[len(s) for s in samples]} → {len(final)}')
        self.shot('answer-done')

        # 5. Reload: still logged in, the conversation and its 6 messages are there.
        d.refresh()
        self.visible('logout')
        self.wait(lambda d: len(d.find_elements(*tid('conversation'))) == 1, SHORT, 'the conversation after reload')
        self.wait(lambda d: len(self.messages()) == 6 and all(m['status'] == 'done' for m in self.messages()), SHORT,
                  'all 6 messages, done, after reload')
        roles = [m['role'] for m in self.messages()]
        if roles.count('user') != 3 or roles.count('assistant') != 3:
            raise Failure(f'unexpected roles after reload: {roles}')
        ids = [m['id'] for m in self.messages()]
        if ids != sorted(ids) or len(set(ids)) != 6 or '' in ids:
            raise Failure(f'messages not in id order or without ids after reload: {ids}')
        self.shot('reloaded')

        # 6. Nothing a user wrote is read as HTML.
        hostile = '<b>bold</b> & <script>x</script>'
        box = self.visible('chat-input')
        box.send_keys(hostile)
        box.send_keys(Keys.ENTER)  # Enter sends
        self.wait(lambda d: any(m['role'] == 'user' and m['text'] == hostile and m['status'] == 'done'
                                for m in self.messages()), LONG, 'the HTML-looking message to be done')
        self.wait(lambda d: self.messages()[-1]['role'] == 'assistant' and self.messages()[-1]['status'] == 'done',
                  LONG, 'its answer to be done')
        texts = [m['text'] for m in self.messages() if m['role'] == 'user']
        if not any('<b>bold</b>' in t for t in texts):
            raise Failure(f'the literal <b>bold</b> is not shown: {texts}')
        if d.find_elements(By.CSS_SELECTOR, '#message-list b, #message-list script'):
            raise Failure('a <b> or <script> element exists inside the message list: content was read as HTML')
        if box.get_attribute('value') != '':
            raise Failure('the composer was not cleared after sending')
        self.shot('html-is-text')

        # 7. Sources: a text file, a question on its rare words; the answer names the file as a source,
        # which opens (by keyboard) in a dialog showing the page's text, and closes with Escape.
        sentence = 'The auditors meet at noon on Friday in room 4411.'
        name = '<b>audit-notes.txt'  # a file name is shown as text too ('/' cannot be in one)
        with tempfile.TemporaryDirectory(prefix='scribe-browser-') as folder:
            path = os.path.join(folder, name)
            with open(path, 'w', encoding='utf-8') as f:
                f.write('Minutes of the planning committee.\n\n' + sentence +
                        '\nBring the quarterly ledgers and the signed expense forms.\n')
            before = len(self.messages())
            d.find_element(*tid('file-input')).send_keys(path)
            self.wait_answered(before, 'the text file')
        before = len(self.messages())
        box = self.visible('chat-input')
        box.send_keys('When do the auditors meet?')
        box.send_keys(Keys.ENTER)
        self.wait_answered(before, 'the question about the text file')

        def source_button(d):
            buttons = d.execute_script("""
                const last = [...document.querySelectorAll('[data-testid="message"]')].pop();
                return last && last.dataset.role === 'assistant'
                  ? [...last.querySelectorAll('[data-testid="source"]')].filter(b => b.offsetParent !== null) : [];
            """)
            return next((b for b in buttons if name in b.text), False)
        source = self.wait(source_button, SHORT, f'a source button naming {name!r} under the answer')
        if source.tag_name != 'button' or source.get_attribute('type') != 'button':
            raise Failure(f'a source is a <{source.tag_name} type={source.get_attribute("type")!r}>, not a button')
        d.execute_script('arguments[0].scrollIntoView({block: "nearest"}); arguments[0].focus();', source)
        if d.switch_to.active_element != source:
            raise Failure('the source button cannot take the focus')
        ActionChains(d).send_keys(Keys.ENTER).perform()
        dialog = self.visible('source-page')
        if not d.execute_script('return arguments[0].open && arguments[0].matches(":modal")', dialog):
            raise Failure('the source page is not shown as a modal dialog')
        self.wait(lambda d: sentence in dialog.find_element(By.TAG_NAME, 'pre').text, SHORT, 'the page text in the dialog')
        title = dialog.find_element(By.TAG_NAME, 'h2').text
        if name not in title or 'page 1' not in title:
            raise Failure(f'the dialog heading is {title!r}, expected the file name and "page 1"')
        if d.find_elements(By.CSS_SELECTOR, '#message-list b, [data-testid="source-page"] b'):
            raise Failure('a <b> element exists in the messages or the source dialog: a file name was read as HTML')
        self.shot('sources')
        ActionChains(d).send_keys(Keys.ESCAPE).perform()
        self.wait(lambda d: not d.execute_script('return arguments[0].open', dialog), SHORT, 'Escape to close the dialog')
        self.wait(lambda d: d.switch_to.active_element == source, SHORT, 'the focus to return to the source button')

        # 8. No Content-Security-Policy violations in the console.
        self.drain_console()
        csp = [e for e in self.console if e.get('level') == 'SEVERE' and 'Content Security Policy' in e.get('message', '')]
        if csp:
            raise Failure('Content-Security-Policy violations in the console:\n  ' +
                          '\n  '.join(e['message'] for e in csp))
        severe = [e['message'] for e in self.console if e.get('level') == 'SEVERE']
        if severe:
            print('      other SEVERE console entries (not CSP):\n        ' + '\n        '.join(severe))
        self.shot('console-clean')

        # 9. Log out: the auth form again.
        d.find_element(*tid('logout')).click()
        self.visible('auth-email')
        self.visible('auth-login')
        if d.find_elements(*tid('logout')) and d.find_element(*tid('logout')).is_displayed():
            raise Failure('the log out button is still shown after logging out')
        if d.execute_script("return localStorage.getItem('scribe.token')"):
            raise Failure('the token is still in localStorage after logging out')
        self.shot('logged-out')

    def close(self):
        try:
            self.driver.quit()
        except WebDriverException:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--base', required=True)
    parser.add_argument('--screenshots', required=True)
    parser.add_argument('--fixtures', required=True)
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    print(f'screenshots: {os.path.abspath(args.screenshots)}', flush=True)
    started = time.monotonic()
    test = PageTest(args.base, args.screenshots, args.fixtures)
    try:
        test.run()
    except Exception as error:  # noqa: BLE001 — every failure is reported the same way
        try:
            test.driver.save_screenshot(os.path.join(args.screenshots, 'failure.png'))
        except WebDriverException:
            pass
        test.drain_console()
        if test.console:
            print('browser console:', file=sys.stderr)
            for entry in test.console[-20:]:
                print(f'  {entry.get("level")}: {entry.get("message")}', file=sys.stderr)
        if not isinstance(error, Failure):
            traceback.print_exc()
        print(f'FAIL (step {test.step_no + 1}): {error}', file=sys.stderr)
        test.close()
        sys.exit(1)
    test.close()
    print(f'PASS in {time.monotonic() - started:.1f} s')


if __name__ == '__main__':
    main()
